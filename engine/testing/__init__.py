"""Tools for testers: profile generators, fuzzing, samples and synthetic populations."""
