"""Prints Google's dp-accounting's epsilon for DP-SGD runs, to check gradctl's accountant.

Reads a JSON list of [q, noise_multiplier, steps, delta] from stdin; prints a JSON list of
epsilons: an RdpAccountant (its default orders) composed with `steps` Poisson-sampled Gaussian
events.
"""
import json
import sys

import dp_accounting


def epsilon(q, sigma, steps, delta):
    accountant = dp_accounting.rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, steps))
    return accountant.get_epsilon(delta)


json.dump([epsilon(*point) for point in json.load(sys.stdin)], sys.stdout)
