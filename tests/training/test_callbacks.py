import torch

from digitlab.training.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau


def _model(value: float):
    m = torch.nn.Linear(1, 1)
    with torch.no_grad():
        m.weight.fill_(value)
    return m


def test_early_stopping_waits_patience_epochs_then_restores_the_best_weights():
    es = EarlyStopping(patience=3)
    m = _model(0)
    losses = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    stops = []
    for epoch, loss in enumerate(losses, 1):
        with torch.no_grad():
            m.weight.fill_(epoch)
        stops.append(es.on_epoch_end(epoch, {"val_loss": loss}, m))
    assert stops == [False, False, False, False, True, True] and es.best_epoch == 2
    es.on_train_end(m)
    assert m.weight.item() == 2.0


def test_reduce_lr_halves_after_patience_and_respects_min_lr():
    opt = torch.optim.Adam(_model(0).parameters(), lr=4e-6)
    cb = ReduceLROnPlateau(opt, factor=0.5, patience=3, min_lr=1e-6)
    lrs = []
    for epoch in range(1, 14):
        cb.on_epoch_end(epoch, {"val_loss": 1.0}, None)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[:3] == [4e-6] * 3 and lrs[3] == 2e-6 and lrs[6] == 1e-6 and min(lrs) == 1e-6


def test_checkpoint_saves_only_on_improvement_and_state_round_trips():
    saved = []
    cb = ModelCheckpoint(lambda epoch, logs: saved.append(epoch))
    for epoch, loss in enumerate([0.5, 0.4, 0.45, 0.3], 1):
        cb.on_epoch_end(epoch, {"val_loss": loss}, None)
    assert saved == [1, 2, 4]
    other = ModelCheckpoint(lambda *a: None)
    other.load_state_dict(cb.state_dict())
    assert other.best == 0.3 and other.best_epoch == 4


def test_checkpoint_on_an_accuracy_keeps_the_highest_and_the_earlier_of_a_tie():
    saved = []
    cb = ModelCheckpoint(lambda epoch, logs: saved.append(epoch), monitor="val_acc")
    for epoch, acc in enumerate([0.90, 0.95, 0.93, 0.95, 0.97], 1):
        cb.on_epoch_end(epoch, {"val_acc": acc}, None)
    assert saved == [1, 2, 5] and cb.best_epoch == 5
