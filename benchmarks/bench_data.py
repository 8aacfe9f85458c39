"""Data sampling: the runner's device-resident sampling (one ``randint`` and one index per
batch) against a typical ``DataLoader`` over the same tensors (shuffled, moved to the device
per batch). Figures: ``extra_info["images_per_s"]``; the DataLoader case also records
``speedup_of_resident`` measured in the same run.
"""

import pytest

from benchutil import synced

BATCHES = 200
RESULTS: dict = {}


def _data(reg, dataset):
    from ganbench.api.specs import DataRequest

    return reg.datasets.get(dataset).load(DataRequest(split="train")).x


@pytest.mark.parametrize("dataset,batch", [("digits", 64), ("ring8", 128)])
def test_sample_resident(benchmark, reg, device, dataset, batch):
    import torch

    x = _data(reg, dataset).to(device)
    rng = torch.Generator(device=device).manual_seed(0)
    n = x.shape[0]

    def sample():
        for _ in range(BATCHES):
            x[torch.randint(n, (batch,), device=device, generator=rng)]

    benchmark.pedantic(synced(sample, device), rounds=5, iterations=1, warmup_rounds=1)
    ips = BATCHES * batch / benchmark.stats.stats.median
    RESULTS[(dataset, "resident")] = ips
    benchmark.extra_info.update(images_per_s=round(ips), device=str(device))


@pytest.mark.parametrize("dataset,batch", [("digits", 64), ("ring8", 128)])
def test_sample_dataloader(benchmark, reg, device, dataset, batch):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    x = _data(reg, dataset)
    loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))

    def sample():
        done = 0
        while done < BATCHES:
            for (b,) in loader:
                b.to(device, non_blocking=True)
                done += 1
                if done == BATCHES:
                    break

    benchmark.pedantic(synced(sample, device), rounds=3, iterations=1, warmup_rounds=1)
    ips = BATCHES * batch / benchmark.stats.stats.median
    benchmark.extra_info.update(images_per_s=round(ips), device=str(device))
    resident = RESULTS.get((dataset, "resident"))
    if resident:
        benchmark.extra_info["speedup_of_resident"] = round(resident / ips, 2)
        assert resident > ips, "device-resident sampling should beat a DataLoader"
