"""Great Expectations suites as code: one module per table, named after it (see tealeaves.quality.gate)."""
