# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Environment
#
# The numbers on this site were computed while it was built, in the process below. The
# parity figures do not depend on the machine beyond rounding; the elapsed times do.
# Every random draw is seeded, so another build with the same versions prints the same
# figures (the times aside).

# %%
import pandas as pd

from weightdecay.environment import describe

pd.Series(describe(), name="value").to_frame()
