from __future__ import annotations

import math
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

import helpers
from sophont_trainer import gguf
from sophont_trainer.gguf import GGUFError
from sophont_trainer.hf_backend import export_gguf_pairs, permute_rows, unpermute_rows
from sophont_trainer.llama import TinyLlama, apply_rope, rope_tables
from sophont_trainer.qweight import QWeight
from sophont_trainer.quants import GGMLType
from sophont_trainer.lora import LoraPair, LoraSet, init_lora, lora_delta, lora_scale, read_adapter, refactor, write_adapter
from sophont_trainer.tiny_model import tiny_metadata, tiny_tensors


def tiny_model(spec=helpers.SMALL) -> TinyLlama:
    return TinyLlama(gguf.parse_gguf(gguf.serialize_gguf(tiny_metadata(spec), tiny_tensors(spec))), torch.device("cpu"))


def random_lora(model: TinyLlama, rank: int, alpha: float, seed: int, targets: list[str]) -> LoraSet:
    g = torch.Generator().manual_seed(seed)
    lora = init_lora(model.target_weights(targets), rank, alpha, g)
    for p in lora.pairs.values():
        p.b.data = torch.randn(p.b.shape, generator=g) * 0.3  # a trained-looking, non-zero B
    return lora


class DeltaMath(unittest.TestCase):
    def test_delta_is_scaled_b_times_a(self) -> None:
        a = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])  # [r=2, in=3]
        b = torch.tensor([[1.0, 0.0], [2.0, 1.0]])  # [out=2, r=2]
        # B @ A = [[1, 2, 0], [2, 5, -1]], scale = alpha / r = 4 / 2 = 2
        torch.testing.assert_close(lora_delta(a, b, lora_scale(4.0, 2)), torch.tensor([[2.0, 4.0, 0.0], [4.0, 10.0, -2.0]]))
        self.assertEqual(lora_scale(0.0, 8), 1.0)  # llama.cpp: no alpha -> scale 1

    def test_forward_with_lora_equals_forward_with_merged_weights(self) -> None:
        model = tiny_model()
        lora = random_lora(model, 3, 6.0, 0, ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_down", "output"])
        tokens = torch.tensor([[1, 5, 77, 260, 3]])
        model.attach_lora(lora)
        with torch.no_grad():
            with_lora = model.logits(tokens)
            for name, d in lora.deltas().items():
                w = model.w[name]
                model.w[name] = QWeight(w.full() + d, GGMLType.F32, w.shape)
            with model.lora_disabled():
                merged = model.logits(tokens)
        torch.testing.assert_close(with_lora, merged, rtol=1e-4, atol=1e-4)

    def test_init_is_a_no_op(self) -> None:
        model = tiny_model()
        tokens = torch.tensor([[1, 9, 8, 7]])
        with torch.no_grad():
            base = model.logits(tokens)
            model.attach_lora(init_lora(model.target_weights(["attn_q", "ffn_up"]), 4, 8.0, torch.Generator().manual_seed(0)))
            torch.testing.assert_close(model.logits(tokens), base)

    def test_refactor_exact_when_rank_suffices_and_svd_optimal_otherwise(self) -> None:
        g = torch.Generator().manual_seed(3)
        low = torch.randn(7, 3, generator=g) @ torch.randn(3, 9, generator=g)
        r = refactor(low, rank=4, alpha=8.0)
        torch.testing.assert_close(lora_scale(8.0, 4) * r.b @ r.a, low, rtol=1e-4, atol=1e-4)
        self.assertLess(r.relative_error, 1e-5)
        self.assertEqual(tuple(r.a.shape), (4, 9))
        self.assertEqual(tuple(r.b.shape), (7, 4))
        full = torch.randn(6, 6, generator=g)
        s = torch.linalg.svdvals(full.double())
        r2 = refactor(full, rank=2, alpha=2.0)
        # Eckart-Young: the error is the norm of the dropped singular values
        self.assertAlmostEqual(r2.relative_error, math.sqrt(float((s[2:] ** 2).sum() / (s ** 2).sum())), places=5)


class AdapterFiles(unittest.TestCase):
    def test_write_read_and_llama_cpp_shape_rules(self) -> None:
        model = tiny_model()
        lora = random_lora(model, 2, 4.0, 1, ["attn_k", "ffn_down"])
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "a.gguf"
            write_adapter(path, 4.0, model.export_pairs(lora))
            g = gguf.read_gguf(path)
            self.assertEqual(g.get("general.type"), "adapter")
            self.assertEqual(g.get("adapter.type"), "lora")
            self.assertEqual(g.metadata["adapter.lora.alpha"].type, gguf.ValueType.FLOAT32)
            # llama.cpp: base ne = [in, out]; lora_a ne = [in, r]; lora_b ne = [r, out]
            kv = model.cfg.head_dim * model.cfg.n_head_kv
            self.assertEqual(g.tensors["blk.0.attn_k.weight.lora_a"].ne, (model.cfg.n_embd, 2))
            self.assertEqual(g.tensors["blk.0.attn_k.weight.lora_b"].ne, (2, kv))
            self.assertEqual(g.tensors["blk.0.ffn_down.weight.lora_a"].ne, (model.cfg.n_ff, 2))
            ad = read_adapter(path, model.base_shapes())
            for name, d in lora.deltas().items():
                torch.testing.assert_close(ad.deltas()[name], d)
            # a wrong base model is refused, as llama.cpp would
            other = tiny_model(helpers.TinySpec(n_embd=32, n_head=4, n_head_kv=2, n_ff=32, n_layer=1))
            with self.assertRaisesRegex(GGUFError, "shape"):
                read_adapter(path, other.base_shapes())

    def test_rejects_half_pairs_and_non_adapters(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "half.gguf"
            gguf.write_gguf(p, {"general.architecture": "llama", "general.type": "adapter", "adapter.type": "lora"},
                            {"blk.0.attn_q.weight.lora_a": np.zeros((2, 16), np.float32)})
            with self.assertRaisesRegex(GGUFError, "missing one component"):
                read_adapter(p)
            p2 = Path(d) / "model.gguf"
            gguf.write_gguf(p2, {"general.architecture": "llama"}, {})
            with self.assertRaisesRegex(GGUFError, "not a LoRA adapter"):
                read_adapter(p2)


def rotate_half_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """HF's ("neox") rotation: pairs (i, i + d/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1)


class HFLayout(unittest.TestCase):
    """The hf back-end's export rule, checked without transformers: llama.cpp's Q/K row permutation
    turns HF's half-split RoPE into llama.cpp's adjacent-pair RoPE, and must be applied to LoRA B."""

    def test_permutation_inverts(self) -> None:
        w = np.arange(8 * 3 * 5, dtype=np.float32).reshape(24, 5)
        np.testing.assert_array_equal(unpermute_rows(permute_rows(w, 3), 3), w)
        np.testing.assert_array_equal(permute_rows(unpermute_rows(w, 6, 3), 6, 3), w)

    def test_hf_rope_on_unpermuted_rows_equals_gguf_rope(self) -> None:
        model = tiny_model()
        cfg = model.cfg
        g = torch.Generator().manual_seed(5)
        x = torch.randn(1, 6, cfg.n_embd, generator=g)
        cos, sin = rope_tables(cfg, 6, torch.device("cpu"), None)
        wq = model.w["blk.0.attn_q.weight"].full()
        gguf_q = apply_rope((x @ wq.T).view(1, 6, cfg.n_head, cfg.head_dim), cos, sin)
        hf_wq = torch.from_numpy(unpermute_rows(wq.numpy(), cfg.n_head, cfg.n_head))
        hf_q = rotate_half_rope((x @ hf_wq.T).view(1, 6, cfg.n_head, cfg.head_dim), cos, sin)
        wk = model.w["blk.0.attn_k.weight"].full()
        gguf_k = apply_rope((x @ wk.T).view(1, 6, cfg.n_head_kv, cfg.head_dim), cos, sin)
        hf_wk = torch.from_numpy(unpermute_rows(wk.numpy(), cfg.n_head, cfg.n_head_kv))
        hf_k = rotate_half_rope((x @ hf_wk.T).view(1, 6, cfg.n_head_kv, cfg.head_dim), cos, sin)
        rep = cfg.n_head // cfg.n_head_kv
        # the head dims come out in another order, but the attention scores Q.K are identical
        att_gguf = torch.einsum("bqhd,bkhd->bhqk", gguf_q, gguf_k.repeat_interleave(rep, 2))
        att_hf = torch.einsum("bqhd,bkhd->bhqk", hf_q, hf_k.repeat_interleave(rep, 2))
        torch.testing.assert_close(att_gguf, att_hf, rtol=1e-4, atol=1e-4)

    def test_exported_b_is_permuted_like_the_weights(self) -> None:
        model = tiny_model()
        cfg = model.cfg
        g = torch.Generator().manual_seed(6)
        # a LoRA trained in HF row order on q and k ...
        hf = LoraSet(2, 4.0, {
            "blk.0.attn_q.weight": LoraPair(torch.randn(2, cfg.n_embd, generator=g), torch.randn(cfg.n_embd, 2, generator=g)),
            "blk.0.attn_k.weight": LoraPair(torch.randn(2, cfg.n_embd, generator=g), torch.randn(cfg.head_dim * cfg.n_head_kv, 2, generator=g)),
        })
        pairs = export_gguf_pairs(hf, cfg.n_head, cfg.n_head_kv)
        # ... exported, equals the HF delta converted the way llama.cpp converts the base weight
        for name, n_kv in (("blk.0.attn_q.weight", cfg.n_head), ("blk.0.attn_k.weight", cfg.n_head_kv)):
            a, b = pairs[name]
            hf_delta = hf.deltas()[name].numpy()
            np.testing.assert_allclose(2.0 * b @ a, permute_rows(hf_delta, cfg.n_head, n_kv), rtol=1e-5, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
