"""Family R, relational inference (Kipf et al. 2018, NRI): springs, charged and Kuramoto simulators."""
