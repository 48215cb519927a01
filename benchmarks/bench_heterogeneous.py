"""asv: the heterogeneous family's periodic radius graph (one frame of 4800 particles: the goal is 50 ms) and
one simulated frame (velocities of 4800 particles); ``scripts/bench_heterogeneous.py`` prints both against
their goals and the whole paper-scale generation against its 2 minutes."""

from __future__ import annotations

import numpy as np


class RadiusGraph:
    params = [960, 4800]
    param_names = ["particles"]
    timeout = 120

    def setup(self, particles):
        from bench.graphs import Displacement

        self.box = float(np.sqrt(particles / 4800))
        self.x = np.random.default_rng(0).uniform(0, self.box, (particles, 2))
        self.displacement = Displacement((self.box, self.box))
        self.params3 = np.repeat(np.array([[1.6233, 1.0413, 1.6012, 1.5615], [1.7667, 1.8308, 1.0855, 1.9055],
                                           [1.7226, 1.7850, 1.0584, 1.8579]]), particles // 3, axis=0)  # fmt: skip

    def time_batch_graph(self, particles):
        from bench.graphs import radius_graph

        radius_graph(self.x, 0.075, self.displacement)

    def time_simulator_frame(self, particles):
        from bench.tasks.heterogeneous.systems import velocity

        velocity(self.x, self.params3, self.box, 0.075, 0.005)
