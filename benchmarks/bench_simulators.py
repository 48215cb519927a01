"""asv: simulator throughput of every family F system (1000 simulations of 4 particles in 2-D)."""

from __future__ import annotations

from bench.tasks.forces.systems import POTENTIALS, SYSTEMS, initial_state, integrate


class Simulate:
    params = list(SYSTEMS)
    param_names = ["system"]
    timeout = 120

    def setup(self, system):
        self.state = initial_state(1000, 4, 2, seed=[0, 0])

    def time_50_steps_of_1000_simulations(self, system):
        integrate(system, self.state, POTENTIALS[system].dt, n_steps=50, record_every=5, substeps=4)
