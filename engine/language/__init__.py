"""The rule language and its loader: the profile vocabulary, derived facts, rule nodes, parameters, the catalogue, and the checks that run when they load."""
