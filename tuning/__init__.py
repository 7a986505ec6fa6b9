"""KerasTuner hypermodels and sweeps (GPU-aware, distributed). Not built yet: see its issue."""
