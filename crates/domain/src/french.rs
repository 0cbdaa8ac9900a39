//! French formats shared by pages, messages and documents.

/// Formats an ISO date in French (`7 mai 2024`).
pub fn french_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let parts: Vec<&str> = iso.get(..10).unwrap_or(iso).split('-').collect();
    match parts.as_slice() {
        [y, m, d] => match (m.parse::<usize>(), d.parse::<u32>()) {
            (Ok(m), Ok(d)) if (1..=12).contains(&m) => {
                let day = if d == 1 {
                    "1er".to_string()
                } else {
                    d.to_string()
                };
                format!("{day} {} {y}", MONTHS[m - 1])
            }
            _ => iso.to_string(),
        },
        _ => iso.to_string(),
    }
}

/// Writes a number with the French decimal comma: with `Some(digits)` that many decimals
/// (`3,023793`, `1,00`), with `None` the shortest exact form (`50,63`, `-5,6`, `15`).
pub fn french_decimal(x: f64, digits: Option<usize>) -> String {
    match digits {
        Some(d) => format!("{x:.d$}"),
        None => x.to_string(),
    }
    .replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_take_a_comma() {
        assert_eq!(french_decimal(3.0237934, Some(6)), "3,023793");
        assert_eq!(french_decimal(1.0, Some(2)), "1,00");
        assert_eq!(french_decimal(-5.6, None), "-5,6");
        assert_eq!(french_decimal(15.0, None), "15");
        assert_eq!(french_decimal(23.84, Some(1)), "23,8");
    }
}
