-- Indexes for following the money at national scale (measured with `quartiers bench funding`
-- on the load of `quartiers generate national-load`: 450 contracts, 10 years, 30,000
-- applications a year). Without them, reading one application's agreements and listing
-- one contract's overdue reports scan every agreement of the platform.

-- The agreements of an application (application page, an organisation's overdue reports).
CREATE INDEX agreements_application ON agreements (application_id);

-- The overdue reports of one contract.
CREATE INDEX agreements_contract_due ON agreements (contract_id, report_due_on);
