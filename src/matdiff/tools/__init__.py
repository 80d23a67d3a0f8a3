"""Tools for understanding a derivative: explain (the chain rule), backprop, check a claim,
entries (componentwise), and the cookbook of identities. They build on :mod:`matdiff.api`."""
