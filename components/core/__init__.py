"""Pure core: bundle parsing, parameter mapping and template transforms. No I/O, no Pulumi."""
