"""Simulations: synthetic and real domains, experts from samples, the stochastic
primal-dual algorithm, structural distillation and samplers."""
