"""Quantized GGUF tensors: the writer's blocks, the reader's packed views, dequantization on the fly.

That the blocks are the ones llama.cpp reads is checked against llama.cpp itself in
test/adapters/trainer/gguf-architectures.int.test.ts; here: sizes, round trips, the packed base and
the gradient through a packed weight.
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import helpers  # noqa: F401  (puts sophont_trainer on sys.path)
from sophont_trainer import gguf
from sophont_trainer.decoder import GGUFModel
from sophont_trainer.gguf import GGUFError, Tensor
from sophont_trainer.lora import init_lora
from sophont_trainer.quants import LAYOUTS, GGMLType, activation_round, dequantize, quantize
from sophont_trainer.qweight import QWeight, linear
from sophont_trainer.tiny_model import TinySpec, write_tiny_model

# relative RMS error of a round trip on standard normal data: about what llama.cpp's own quantizers
# reach (its Q4_K ~0.07), so a packing bug (a misplaced nibble or scale) shows as a large error
BOUNDS = {GGMLType.BF16: 0.003, GGMLType.Q8_0: 0.01, GGMLType.Q6_K: 0.03, GGMLType.Q5_K: 0.05,
          GGMLType.Q4_K: 0.1, GGMLType.MXFP4: 0.15}


class QuantTest(unittest.TestCase):
    def test_round_trips_within_the_types_precision(self) -> None:
        x = np.random.default_rng(0).standard_normal((8, 512)).astype(np.float32)
        for t, bound in BOUNDS.items():
            packed = quantize(x, t)
            lay = LAYOUTS[t]
            self.assertEqual(packed.shape, (8, 512 // lay.block * lay.bytes), t.name)
            y = dequantize(torch.from_numpy(packed), t, 512).numpy()
            rel = float(np.sqrt(((y - x) ** 2).mean() / (x**2).mean()))
            self.assertLess(rel, bound, t.name)

    def test_zeros_and_constant_blocks_survive(self) -> None:
        x = np.zeros((2, 256), dtype=np.float32)
        x[1] = 0.5
        for t in BOUNDS:
            y = dequantize(torch.from_numpy(quantize(x, t)), t, 256).numpy()
            np.testing.assert_allclose(y, x, atol=0.02, err_msg=t.name)

    def test_rows_must_fill_whole_blocks(self) -> None:
        with self.assertRaisesRegex(GGUFError, "multiple of 256"):
            gguf.serialize_gguf({"general.architecture": "llama"}, {"w": Tensor("w", np.zeros((2, 96), np.float32), GGMLType.Q4_K)})

    def test_written_blocks_read_back_packed_and_unchanged(self) -> None:
        x = np.random.default_rng(1).standard_normal((3, 4, 256)).astype(np.float32)
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "q.gguf"
            gguf.write_gguf(p, {"general.architecture": "llama"}, {"e": Tensor("e", x, GGMLType.Q5_K)})
            t = gguf.read_gguf(p).tensors["e"]
            self.assertEqual(t.type, GGMLType.Q5_K)
            self.assertEqual(t.shape, (3, 4, 256))
            self.assertEqual(t.ne, (256, 4, 3))
            np.testing.assert_array_equal(t.data, quantize(x, GGMLType.Q5_K))
            # written back as read: the same bytes
            self.assertEqual(gguf.serialize_gguf({"general.architecture": "llama"}, {"e": t}), p.read_bytes())

    def test_activation_rounding_is_a_rounding(self) -> None:
        x = torch.randn(3, 512)
        for t in (GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_K):
            r = activation_round(x, t)
            self.assertFalse(torch.equal(r, x), t.name)
            self.assertLess(float((r - x).abs().max()), float(x.abs().max()) / 100, t.name)
        half = activation_round(x, GGMLType.F16)
        self.assertTrue(torch.equal(activation_round(half, GGMLType.F16), half))
        self.assertTrue(torch.equal(activation_round(x, GGMLType.F32), x))


class PackedBaseTest(unittest.TestCase):
    def test_gradient_through_a_packed_weight_is_the_dequantized_ones(self) -> None:
        w = np.random.default_rng(2).standard_normal((64, 256)).astype(np.float32)
        qw = QWeight(torch.from_numpy(quantize(w, GGMLType.Q4_K)), GGMLType.Q4_K, (64, 256))
        x = torch.randn(5, 256, requires_grad=True)
        linear(x, qw).pow(2).sum().backward()
        x2 = x.detach().clone().requires_grad_(True)
        (x2 @ qw.full().T).pow(2).sum().backward()
        torch.testing.assert_close(x.grad, x2.grad)

    def test_the_base_stays_packed_in_memory(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            for quant, bits in (("Q4_K", 4.5), ("Q8_0", 8.5), ("MXFP4", 4.25)):
                p = Path(d) / f"{quant}.gguf"
                write_tiny_model(p, TinySpec(n_embd=256, n_head=4, n_head_kv=2, n_ff=512, arch="qwen3moe", quant=quant,
                                             n_ff_exp=256))
                m = GGUFModel(gguf.read_gguf(p), torch.device("cpu"))
                packed = [w for w in m.w.values() if w.packed]
                self.assertTrue(packed)
                for w in packed:
                    self.assertEqual(w.data.dtype, torch.uint8)
                    self.assertAlmostEqual(w.nbytes() * 8 / int(np.prod(w.shape)), bits, places=3)

    def test_checkpointing_and_bf16_autocast_keep_the_gradients(self) -> None:
        """What the memory plan assumes on a GPU (per-layer checkpoints, bf16 matmuls), here on the CPU."""
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "m.gguf"
            write_tiny_model(p, TinySpec(n_embd=256, n_head=4, n_head_kv=2, n_ff=512, arch="gpt-oss", quant="Q8_0",
                                         expert_quant="MXFP4", n_ff_exp=256))
            m = GGUFModel(gguf.read_gguf(p), torch.device("cpu"))
            m.attach_lora(init_lora(m.target_weights(["attn_q", "attn_v", "ffn_gate_inp"]), 4, 8.0, torch.Generator().manual_seed(0)))
            for pair in m.lora.pairs.values():
                torch.nn.init.normal_(pair.b, std=0.01)
            tokens = torch.tensor([[1, 5, 6, 250, 7, 9, 100]])

            def grads(checkpointing: bool, dtype: torch.dtype | None) -> list[torch.Tensor]:
                m.checkpointing, m.autocast_dtype = checkpointing, dtype
                for t in m.lora.parameters():
                    t.grad = None
                m.logits(tokens).log_softmax(-1)[0, :-1].gather(-1, tokens[0, 1:, None]).sum().backward()
                return [t.grad.clone() for t in m.lora.parameters()]

            plain, ckpt, bf16 = grads(False, None), grads(True, None), grads(True, torch.bfloat16)
            for a, b, c in zip(plain, ckpt, bf16):
                torch.testing.assert_close(a, b)
                self.assertTrue(torch.isfinite(c).all())
                # bf16 keeps 8 bits of mantissa: the direction survives, not every digit
                self.assertGreater(float(F.cosine_similarity(a.flatten(), c.flatten(), 0)), 0.95)

    def test_unknown_architecture_is_refused_with_the_supported_list(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "m.gguf"
            write_tiny_model(p, TinySpec())
            g = gguf.read_gguf(p)
            g.metadata["general.architecture"] = gguf.string("mamba")
            with self.assertRaisesRegex(GGUFError, "supported: llama, qwen2, qwen3, qwen3moe, gpt-oss"):
                GGUFModel(g, torch.device("cpu"))


if __name__ == "__main__":
    unittest.main()
