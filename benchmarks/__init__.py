"""Scripts that measure speed and quality on real data, side by side with baselines."""
