"""Supervised class-conditioned mixing (--cls > 0): the class mixer, label mixing, the extra loss
terms, the discriminator's auxiliary classifier, the label-consistency rate and the modes."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import evaluation.judge
import task_launcher
from architectures import build_networks
from helpers import FAST, rows
from evaluation.class_mix_checks import consistency_rates, top_k_is_target
from iterators import batches, epoch_order, load_dataset
from models import AMR, AMRConfig
from models.class_mixing import ClassMixer, mask_mix, mask_prior, pair_targets, sample_label_mix
from models.losses import GAN_LOSSES

K = 10  # classes
BCE = GAN_LOSSES["bce"]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny networks run fastest on one thread


def make_model(label_only=False, cls=1.0, eps=0.5, beta=0.5, ngf=4, ndf=4, lr=1e-3):
    torch.manual_seed(0)
    g, d = build_networks("arch_acai_kyle", 1, ngf, ndf, n_classes=K)
    model = AMR(g, d, AMRConfig(cls=cls, eps=eps, beta=beta), seed=0,
                class_mixer=ClassMixer(g.code_shape, K, label_only))
    model.configure_optimizers(lr, (0.5, 0.99), 0.0)
    return model


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 32, 32, generator=g) * 2 - 1, torch.randint(0, K, (n,), generator=g)


# ---- pure functions ----------------------------------------------------------------------------
def test_label_mix_takes_each_class_from_either_label():
    one_hot = F.one_hot(torch.tensor([3, 4]), K).float().repeat(2000, 1)  # labels 3, 4, 3, 4, ...
    partner = torch.arange(len(one_hot))
    partner[0::2] = 1  # even rows (label 3) mix with row 1 (label 4); odd rows with themselves
    y_mix = sample_label_mix(one_hot, partner, torch.Generator().manual_seed(0))
    even, odd = y_mix[0::2], y_mix[1::2]
    assert torch.equal(odd, one_hot[1::2])  # same label on both sides: y_mix is that label
    assert set(even.nonzero()[:, 1].tolist()) == {3, 4} and even[:, [0, 1, 2, 5, 6, 7, 8, 9]].sum() == 0
    kinds = {(1, 0): 0, (0, 1): 0, (1, 1): 0, (0, 0): 0}
    for row in even[:, 3:5].long().tolist():
        kinds[tuple(row)] += 1
    assert all(abs(v / 2000 - 0.25) < 0.04 for v in kinds.values()), kinds  # {3}, {4}, {3,4}, {} equally


def test_pair_targets_order():
    t = pair_targets(torch.tensor([1]), torch.tensor([7]), K)[0]
    assert t.shape == (4, K)
    assert [r.nonzero().flatten().tolist() for r in t] == [[1], [1, 7], [7], []]


def test_mask_mix_and_prior_known_answers():
    h1, h2 = torch.full((2, 4, 3, 3), 2.0), torch.full((2, 4, 3, 3), -1.0)
    m = torch.tensor([[1.0, 0.0, 0.5, 0.25]] * 2)
    out = mask_mix(h1, h2, m)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([2.0, -1.0, 0.5, -0.25]))
    assert mask_prior(torch.ones(3, 4)) == 4.0 and mask_prior(torch.full((3, 4), 0.5)) == 0.0
    assert mask_prior(torch.tensor([[1.0, 1.0, 1.0, 0.0]])) == 1.0


def test_top_k_is_target():
    logits = torch.tensor([[5.0, 4.0, 0.0], [5.0, 0.0, 4.0], [0.0, 5.0, 4.0]])
    assert top_k_is_target(logits, torch.tensor([[1.0, 1, 0]] * 3)).tolist() == [True, False, False]
    assert top_k_is_target(logits, torch.tensor([[1.0, 0, 0]] * 3)).tolist() == [True, True, False]


# ---- the class mixer -------------------------------------------------------------------------------
@pytest.mark.parametrize("label_only", [False, True])
def test_mask_shape_range_and_mix(label_only):
    mixer = ClassMixer((16, 4, 4), K, label_only)
    h1, h2 = torch.randn(6, 16, 4, 4), torch.randn(6, 16, 4, 4)
    y_mix = pair_targets(torch.arange(6), torch.arange(6) + 1, K)[:, 1]
    with torch.no_grad():
        nn.init.normal_(mixer.out[-1].weight, std=10.0)  # saturate: the range must still hold
        mixed, m = mixer(h1, h2, y_mix)
    assert m.shape == (6, 16) and mixed.shape == h1.shape
    assert (m >= 0).all() and (m <= 1).all() and (m < 0.5).any() and (m > 0.5).any()
    torch.testing.assert_close(mixed, m[:, :, None, None] * h1 + (1 - m[:, :, None, None]) * h2)
    # label_only: the mask depends on y_mix alone; otherwise on the codes too
    m_other = mixer.mask(torch.randn(6, 16, 4, 4), h2, y_mix)
    assert torch.equal(m_other, m) == label_only
    if not label_only:  # swapping the sources flips the mask: the same mix
        torch.testing.assert_close(mixer.mask(h2, h1, y_mix), 1 - m)


@pytest.mark.parametrize("label_only", [False, True], ids=["codes_and_labels", "label_only"])
def test_both_mixer_variants_train_and_gradients_reach_the_mixer(label_only):
    model = make_model(label_only)
    x, y = batch()
    fwd = model.forward_pass(x, y=y)
    cm = fwd.class_mix
    assert cm.mask.shape == (8, 2) and cm.image.shape == x.shape and cm.y_mix.shape == (8, K)
    total, terms = model.generator_loss(x, fwd)
    model.zero_grad(set_to_none=True)
    total.backward()
    for name, p in model.class_mixer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the classification term alone also trains the mixer
    model.zero_grad(set_to_none=True)
    fwd = model.forward_pass(x, y=y)
    model.generator_loss(x, fwd)[1]["cls_mix"].backward()
    assert all(p.grad.abs().sum() > 0 for p in model.class_mixer.parameters())

    before = {n: p.detach().clone() for n, p in model.class_mixer.named_parameters()}
    logs = model.train_step(x, y, update_g=True)
    assert all(not torch.equal(p, before[n]) for n, p in model.class_mixer.named_parameters())
    for key in ("g_class_mix", "cls_mix", "mask_prior", "consist_class_mix", "d_class_mix", "d_cls"):
        assert key in logs and torch.isfinite(logs[key]), key
    torch.testing.assert_close(logs["d_loss"], sum(v for k, v in logs.items() if k.startswith("d_") and k != "d_loss"))


def test_generator_and_discriminator_terms_known_answer():
    model = make_model(eps=0.5, beta=0.3).eval()
    x, y = batch()
    with torch.no_grad():
        fwd = model.forward_pass(x, torch.Generator().manual_seed(1), y=y)
        cm = fwd.class_mix
        total, t = model.generator_loss(x, fwd)
        logits, classes = model.discriminator.with_classes(cm.image)
        torch.testing.assert_close(t["g_class_mix"], BCE(logits, 1.0), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(t["cls_mix"], BCE(classes, cm.y_mix), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(t["mask_prior"], ((cm.mask.sum(1) - 1.0) ** 2).mean())
        torch.testing.assert_close(t["consist_class_mix"], (model.generator.encode(cm.image) - cm.codes).abs().mean())
        expected = (t["recon"] + t["g_recon"] + t["g_mix"] + 0.3 * t["consist"] + t["g_class_mix"] + t["cls_mix"]
                    + 0.5 * t["mask_prior"] + 0.3 * t["consist_class_mix"])
        torch.testing.assert_close(total, expected)
        _, d = model.discriminator_loss(x, fwd)
        torch.testing.assert_close(d["d_cls"], BCE(model.discriminator.with_classes(x)[1], F.one_hot(y, K).float()),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(d["d_class_mix"], BCE(logits, 0.0), atol=1e-5, rtol=1e-5)
    # the mixing partner is a permutation and y_mix only holds the two labels
    assert sorted(cm.partner.tolist()) == list(range(8))
    allowed = cm.labels + cm.labels[cm.partner]
    assert ((cm.y_mix > 0) <= (allowed > 0)).all()


def test_discriminator_without_classes_is_unchanged():
    torch.manual_seed(0)
    _, plain = build_networks("arch_acai_kyle", 1, 4, 4)
    torch.manual_seed(0)
    _, aux = build_networks("arch_acai_kyle", 1, 4, 4, n_classes=K)
    extra = set(aux.state_dict()) - set(plain.state_dict())
    assert extra == {"classifier.weight", "classifier.bias"} and set(plain.state_dict()) <= set(aux.state_dict())
    assert not hasattr(plain, "classifier")
    plain.eval(), aux.eval()
    x = torch.randn(3, 1, 32, 32)
    logits, classes = aux.with_classes(x)
    assert classes.shape == (3, K)
    torch.testing.assert_close(logits, aux(x))
    torch.testing.assert_close(aux(x), plain(x))  # same init, same convolutions
    with pytest.raises(ValueError, match="class mixer"):
        AMR(*build_networks("arch_acai_kyle", 1, 4, 4), AMRConfig(cls=1.0))


def test_auxiliary_head_learns_above_chance_on_digits():
    data = load_dataset("digits", "unused")
    model = make_model(lr=3e-3)
    for epoch in range(1, 3):  # 38 steps; measured 0.34 here
        for i, (x, y) in enumerate(batches(data.train, 64, "cpu", epoch_order(0, epoch, len(data.train)))):
            model.train_step(x, y, update_g=i % 5 == 0)
    with torch.no_grad():
        x, y = next(batches(data.valid, 300, "cpu"))
        acc = (model.discriminator.with_classes(x)[1].argmax(1) == y).float().mean().item()
    assert acc > 0.25, acc  # chance is 0.1


def test_consistency_rate_known_answers():
    """Identity 'autoencoder' on one-hot codes and a judge reading the code: a mask that follows the
    target is always consistent; masks ~ U(0, 1) hit a one-label target half the time."""
    p = 4000
    ya = torch.randint(0, K, (p,), generator=torch.Generator().manual_seed(0))
    yb = (ya + 1 + torch.randint(0, K - 1, (p,), generator=torch.Generator().manual_seed(1))) % K
    xa, xb = (F.one_hot(v, K).float()[:, :, None, None] for v in (ya, yb))

    def oracle_mask(ha, hb, y_mix):  # 1 for {a}, 0 for {b}, 1/2 for {a, b}
        m = (1 + (y_mix * ha.flatten(1)).sum(1) - (y_mix * hb.flatten(1)).sum(1)) / 2
        return m[:, None].expand(-1, K)

    model = SimpleNamespace(training=False, eval=lambda: None, train=lambda flag: None,
                            generator=SimpleNamespace(encode=lambda x: x, decode=lambda h: h),
                            class_mixer=SimpleNamespace(mask=oracle_mask, n_classes=K))
    r = consistency_rates(model, lambda img: img.flatten(1), xa, xb, ya, yb)
    assert r["learned_one"] == r["learned_two"] == r["learned_all"] == 1.0
    assert abs(r["random_uniform_one"] - 0.5) < 0.03 and r["random_uniform_two"] > 0.99


# ---- the command line --------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--cls_label_only", "--cls_loss=mse", "--model=threegan"]],
                         ids=["default", "label_only_mse_k3"])
def test_train_resume_and_modes(tmp_path, capsys, monkeypatch, extra):
    monkeypatch.setattr(evaluation.judge, "STEPS", 20)  # a quick judge: these runs check plumbing
    flags = FAST + ["--cls=1", "--eps=0.1", "--save_path", str(tmp_path)] + extra
    assert task_launcher.main(flags + ["--epochs=1"]) == 0
    assert task_launcher.main(flags + ["--epochs=2"]) == 0
    (d,) = list(tmp_path.glob("s0/*/0"))
    table = rows(d / "results.csv")
    assert [r["epoch"] for r in table] == ["1", "2"]
    for col in ("train_cls_mix", "train_d_cls", "valid_g_class_mix", "valid_aux_acc", "judge_test_acc",
                "valid_cls_mix_rate", "valid_cls_mix_rate_random_uniform", "valid_cls_mix_rate_random_bernoulli"):
        assert 0 <= float(table[-1][col]) < 100, col
    state = torch.load(d / "last.pt", weights_only=True)["training"]
    assert any(k.startswith("class_mixer.") for k in state["model"])
    assert any(k.startswith("discriminator.classifier.") for k in state["model"])
    capsys.readouterr()

    assert task_launcher.main(flags + ["--epochs=2", "--mode=interp_sup_valid", "--val_batch_size=8"]) == 0
    out = d / "interp_sup_valid" / "last_epoch2"
    pairs = rows(out / "pairs.csv")
    assert 1 <= len(pairs) <= 4 and all(p["label_a"] != p["label_b"] for p in pairs)
    assert len(list(out.glob("pair_*.png"))) == len(pairs)
    from PIL import Image
    w, h = Image.open(out / "grid.png").size
    assert w == 2 + 6 * (32 + 2) and h == 2 + len(pairs) * (32 + 2)  # x_a, 4 targets, x_b

    assert task_launcher.main(flags + ["--epochs=2", "--mode=label_consistency",
                                       "--mode_override=num_pairs=50"]) == 0
    printed = capsys.readouterr().out
    rates = rows(d / "label_consistency" / "last_epoch2" / "rates.csv")
    assert [r["split"] for r in rates] == ["valid", "test"] and "label consistency" in printed
    for r in rates:
        assert 0 < int(r["pairs"]) <= 50
        for key in ("learned_all", "random_uniform_all", "random_bernoulli_all", "judge_acc_real", "aux_acc"):
            assert 0 <= float(r[key]) <= 1, key
