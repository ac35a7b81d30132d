"""The suite runner behind `zoo bench`: suites, cells, isolated workers, results, reports, W&B mirroring.

Studies that measure the zoo itself (throughput, calibration, gait-event accuracy, pressure variance) live
apart, in the `benchmarks` package.
"""
