"""Sophont's trainer payload: LoRA micro-adapters (SFT + DPO), TIES merge, GGUF LoRA output.

Run as `python -m sophont_trainer` with adapters/trainer on PYTHONPATH; see ../README.md.
"""

__version__ = "0.1.0"
