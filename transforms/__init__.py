"""Thin Beam transforms over the pure core: each DoFn calls the core, counts metrics and routes
failures to an output that ends as a ``videos`` row."""
