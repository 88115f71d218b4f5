"""Speed of the 784-400-20 VAE on binarised Fashion-MNIST: the engine against a plain PyTorch loop
and against pythae (benchmark-only peer), in the same run, alternating rounds; then the IWAE-5000
evaluation throughput.

    python bench/latent_vae_speed.py --threads 2 --epochs 1 --rounds 2 --iwae-images 500

Per-epoch wall time: untaught's whole engine (Lightning loop, dynamic binarisation, a validation
pass over the 10,000 validation images each epoch), a plain loop over the same model and batches
(``torch.optim.Adam`` as a user would write it, no validation), and pythae's ``TrainingPipeline``
with the same 784-400-20 networks, batch size, Adam and learning rate (given the validation images
as eval data, like the engine). pythae gets statically binarised data (it has no dynamic
binarisation); binarising is outside its timing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def plain_loop(model, data, epochs: int, batch: int) -> float:
    from untaught.data.transforms import binarize_dynamic

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = data.train.x
    started = time.perf_counter()
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(epoch)
        order = torch.randperm(len(x), generator=gen)
        for i in range(len(x) // batch):
            xb = binarize_dynamic(x[order[i * batch : (i + 1) * batch]], 256, gen)
            loss, _ = model.loss(xb, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.perf_counter() - started) / epochs


def engine(model, data, epochs: int, batch: int, threads: int) -> tuple[float, float]:
    import untaught

    with tempfile.TemporaryDirectory() as tmp:
        run = untaught.train(
            model, data, epochs=epochs, batch_size=batch, threads=threads, progress=False, samples=0, out=f"{tmp}/run"
        )
    m = run.metrics
    return m["fit_seconds"] / epochs, m["train_step_seconds"] / epochs


def pythae_run(train_x, val_x, epochs: int, batch: int) -> float:
    import logging

    from pythae.models import VAE as PVAE
    from pythae.models import VAEConfig as PVAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig
    from torch import nn

    logging.getLogger("pythae").setLevel(logging.ERROR)

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU())
            self.mu, self.log_var = nn.Linear(400, 20), nn.Linear(400, 20)

        def forward(self, x):
            h = self.body(x)
            return ModelOutput(embedding=self.mu(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).view(-1, 1, 28, 28))

    config = PVAEConfig(input_dim=(1, 28, 28), latent_dim=20, reconstruction_loss="bce")
    model = PVAE(config, encoder=Encoder(), decoder=Decoder())
    with tempfile.TemporaryDirectory() as tmp:
        trainer = BaseTrainerConfig(
            output_dir=tmp,
            num_epochs=epochs,
            learning_rate=1e-3,
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=256,
            no_cuda=True,
            steps_saving=None,
        )
        pipeline = TrainingPipeline(training_config=trainer, model=model)
        started = time.perf_counter()
        pipeline(train_data=train_x, eval_data=val_x)
        return (time.perf_counter() - started) / epochs


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--iwae-images", type=int, default=500, help="test images for the IWAE-5000 timing (0: skip)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from untaught.data.transforms import binarize_static
    from untaught.models.latent import VAE, VAEConfig
    from untaught.training import prepare

    data = prepare("fashion-mnist", binarize="dynamic")
    train_x = binarize_static(data.train.x, 256).float().numpy()
    val_x = data.val.x.float().numpy()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
        f"{args.epochs} epoch(s) per round"
    )
    results: dict[str, list[float]] = {"engine": [], "engine steps": [], "plain loop": [], "pythae": []}
    for r in range(args.rounds):
        # alternate the order within a round, so that neither side always runs first
        def run_engine(r: int = r) -> None:
            torch.manual_seed(r)
            whole, steps = engine(VAE(VAEConfig()), data, args.epochs, args.batch, args.threads)
            results["engine"].append(whole)
            results["engine steps"].append(steps)

        def run_plain(r: int = r) -> None:
            torch.manual_seed(r)
            results["plain loop"].append(plain_loop(VAE(VAEConfig()), data, args.epochs, args.batch))

        def run_pythae() -> None:
            results["pythae"].append(pythae_run(train_x, val_x, args.epochs, args.batch))

        order = [run_engine, run_plain, run_pythae] if r % 2 == 0 else [run_pythae, run_plain, run_engine]
        for step in order:
            torch.set_num_threads(args.threads)
            step()
        print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.2f} s/epoch" for k, v in results.items()), flush=True)
    best = {k: min(v) for k, v in results.items()}
    print("best of rounds (s/epoch):", ", ".join(f"{k} {v:.2f}" for k, v in best.items()))
    median = {k: statistics.median(v) for k, v in results.items()}
    print("median of rounds (s/epoch):", ", ".join(f"{k} {v:.2f}" for k, v in median.items()))
    ratio = best["engine"] / best["plain loop"]
    print(f"engine / plain loop: {ratio:.3f} (engine slower by {100 * (ratio - 1):.1f}%)")
    print(f"pythae / engine: {best['pythae'] / best['engine']:.2f}x (engine faster per epoch)")
    if args.iwae_images:
        torch.manual_seed(0)
        model = VAE(VAEConfig(iwae_k=5000)).eval()
        x = data.test.x[: args.iwae_images]
        started = time.perf_counter()
        with torch.no_grad():
            for chunk in x.split(512):
                model.log_prob(chunk)
        seconds = time.perf_counter() - started
        full = seconds * len(data.test) / len(x)
        print(
            f"IWAE k=5000 over {len(x)} test images: {seconds:.1f} s at {args.threads} threads "
            f"({seconds / len(x) * 1e3:.1f} ms/image; the 10,000 test images at this rate: {full / 60:.1f} min)"
        )


if __name__ == "__main__":
    main()
