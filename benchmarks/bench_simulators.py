"""asv: simulator throughput of every family F system (1000 simulations of 4 particles in 2-D; the compiled
kernel of ``integrate``) and of the family N kernels."""

from __future__ import annotations

from bench.tasks.forces.systems import POTENTIALS, SYSTEMS, initial_state, integrate


class Simulate:
    params = list(SYSTEMS)
    param_names = ["system"]
    timeout = 120

    def setup(self, system):
        self.state = initial_state(1000, 4, 2, seed=[0, 0])
        integrate(system, {k: a[:2] for k, a in self.state.items()}, 1e-3, 2, 1, 1)  # compile, or load the cache

    def time_50_steps_of_1000_simulations(self, system):
        integrate(system, self.state, POTENTIALS[system].dt, n_steps=50, record_every=5, substeps=4)


class NBody:
    """The family N kernels: 256 charged 5-body trajectories of 500 steps, and 32 100-body ones of 20 steps
    (``benchmarks/simulator_speed.py`` compares them with a reference-style loop and the arithmetic limit)."""

    params = [5, 100]
    param_names = ["bodies"]
    timeout = 300

    def setup(self, bodies):
        from bench.tasks.nbody.systems import initial_state, simulate

        self.sims, self.steps = (256, 500) if bodies == 5 else (32, 20)
        self.state = initial_state(self.sims, bodies, [bodies, 9])
        simulate({k: a[:2] for k, a in self.state.items()}, [1], record_every=2)  # compile, or load the cache

    def time_simulate(self, bodies):
        from bench.tasks.nbody.systems import simulate

        simulate(self.state, [0, 1], record_every=self.steps)
