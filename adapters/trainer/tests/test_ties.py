from __future__ import annotations

import unittest

import torch

import helpers  # noqa: F401
from sophont_trainer.lora import lora_delta
from sophont_trainer.ties import disjoint_mean, elect_sign, merge_deltas, ties_merge, trim_top_k

# Three task vectors, hand-checked with k = 50% (2 of 4 entries kept):
#   t1 = [ 0.5, -0.1,  0.3,  -0.8] -> trimmed [ 0.5,  0,   0, -0.8]
#   t2 = [-0.4,  0.2,  0.1,   0.6] -> trimmed [-0.4,  0,   0,  0.6]
#   t3 = [ 0.2, -0.9, -0.05,  0.7] -> trimmed [ 0,   -0.9, 0,  0.7]
# summed: [0.1, -0.9, 0, 0.5] -> elected signs [+, -, 0, +]
# disjoint mean over the agreeing entries: [0.5, -0.9, 0, (0.6 + 0.7) / 2 = 0.65]
# times lambda = 2: [1.0, -1.8, 0, 1.3]
T1 = torch.tensor([0.5, -0.1, 0.3, -0.8])
T2 = torch.tensor([-0.4, 0.2, 0.1, 0.6])
T3 = torch.tensor([0.2, -0.9, -0.05, 0.7])


class TiesSteps(unittest.TestCase):
    def test_trim(self) -> None:
        torch.testing.assert_close(trim_top_k(T1, 50), torch.tensor([0.5, 0.0, 0.0, -0.8]))
        torch.testing.assert_close(trim_top_k(T3, 50), torch.tensor([0.0, -0.9, 0.0, 0.7]))
        torch.testing.assert_close(trim_top_k(T1, 100), T1)
        # ceil: 10% of 4 entries still keeps one
        torch.testing.assert_close(trim_top_k(T1, 10), torch.tensor([0.0, 0.0, 0.0, -0.8]))
        with self.assertRaises(ValueError):
            trim_top_k(T1, 0)

    def test_sign_election(self) -> None:
        trimmed = torch.stack([trim_top_k(t, 50) for t in (T1, T2, T3)])
        torch.testing.assert_close(elect_sign(trimmed), torch.tensor([1.0, -1.0, 0.0, 1.0]))

    def test_disjoint_mean(self) -> None:
        trimmed = torch.stack([trim_top_k(t, 50) for t in (T1, T2, T3)])
        got = disjoint_mean(trimmed, elect_sign(trimmed))
        torch.testing.assert_close(got, torch.tensor([0.5, -0.9, 0.0, 0.65]))

    def test_full_merge_with_lambda(self) -> None:
        got = ties_merge([T1, T2, T3], k_percent=50, lam=2.0)
        torch.testing.assert_close(got, torch.tensor([1.0, -1.8, 0.0, 1.3]))

    def test_matches_a_direct_loop(self) -> None:
        g = torch.Generator().manual_seed(0)
        tvs = [torch.randn(6, 5, generator=g) for _ in range(4)]
        got = ties_merge(tvs, k_percent=30, lam=0.7)
        # direct, entry-by-entry computation of the same definition
        n_keep = -(-30 * 30 // 100)  # ceil(30% of 30 entries) = 9
        trimmed = []
        for tv in tvs:
            flat = tv.flatten().tolist()
            keep = sorted(range(len(flat)), key=lambda i: -abs(flat[i]))[:n_keep]
            trimmed.append([flat[i] if i in keep else 0.0 for i in range(len(flat))])
        want = []
        for j in range(30):
            col = [t[j] for t in trimmed]
            s = sum(col)
            sign = (s > 0) - (s < 0)
            agree = [v for v in col if v != 0 and ((v > 0) - (v < 0)) == sign]
            want.append(0.7 * sum(agree) / len(agree) if agree and sign != 0 else 0.0)
        torch.testing.assert_close(got.flatten(), torch.tensor(want), rtol=1e-6, atol=1e-6)


class MergeOnDeltas(unittest.TestCase):
    def test_merges_full_deltas_not_factors(self) -> None:
        # (B, A) and (-B, -A) are the same adapter: averaging the factors would cancel to zero,
        # merging the deltas must give that delta back (k = 100%, lambda = 1, rank large enough)
        g = torch.Generator().manual_seed(1)
        a, b = torch.randn(2, 6, generator=g), torch.randn(5, 2, generator=g)
        d1, d2 = lora_delta(a, b, 4.0), lora_delta(-a, -b, 4.0)
        res = merge_deltas([{"w": d1}, {"w": d2}], k_percent=100, lam=1.0, rank=2, alpha=8.0)
        r = res.pairs["w"]
        torch.testing.assert_close(4.0 * r.b @ r.a, d1, rtol=1e-5, atol=1e-5)
        self.assertLess(res.relative_error, 1e-6)
        naive = lora_delta((a - a) / 2, (b - b) / 2, 4.0)
        self.assertEqual(float(naive.abs().max()), 0.0)

    def test_missing_tensor_counts_as_zero_and_error_is_reported(self) -> None:
        g = torch.Generator().manual_seed(2)
        x, y = torch.randn(8, 8, generator=g), torch.randn(8, 8, generator=g)
        res = merge_deltas([{"w": x, "v": y}, {"w": -x}], k_percent=50, lam=1.0, rank=2, alpha=2.0)
        self.assertEqual(set(res.pairs), {"w", "v"})
        # v: alone, trimmed to 50%, a sparse 8x8 matrix is not rank 2: a real, reported error
        direct = ties_merge([y, torch.zeros_like(y)], 50, 1.0)
        r = res.pairs["v"]
        err = float((direct - 1.0 * r.b @ r.a).norm() / direct.norm())
        self.assertAlmostEqual(r.relative_error, err, places=5)
        self.assertGreater(res.relative_error, 0.0)
        self.assertLess(res.relative_error, 1.0)


if __name__ == "__main__":
    unittest.main()
