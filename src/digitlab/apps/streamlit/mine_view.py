"""The drawing app's corrections: "Right" and "It's a ..." under each answer, the count per
digit, and the "My digits" tab (a gallery to review and delete what was saved).

Saving is :func:`digitlab.inference.corrections.save_correction` (one digit) and
:func:`~digitlab.inference.corrections.save_number` (each digit of a number), the functions
every entry point uses. For tests and tools: ``#counts`` carries ``data-total`` and a cell
per digit (``td[data-digit]``); ``#saved`` says what was saved last; gallery entries are
``figure.example`` with ``data-id`` and ``data-label``, each with a ``delete-<id>`` button.
"""

from __future__ import annotations

import hashlib
import html
import json

import numpy as np
import streamlit as st

from digitlab.core.errors import DigitlabError
from digitlab.data.mine import Store
from digitlab.inference.corrections import save_correction, save_number

GALLERY_COLUMNS = 10
SAVING_OFF = "Saving corrections is off: the app listens beyond this machine."


def drawing_key(objects: list) -> str:
    """Names one drawing, so that each is saved at most once."""
    return hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()


def upload_key(data: bytes) -> str:
    return "upload-" + hashlib.sha256(data).hexdigest()


def counts_html(counts: dict[int, int]) -> str:
    cells = "".join(f'<td data-digit="{d}">{n}</td>' for d, n in counts.items())
    heads = "".join(f"<th>{d}</th>" for d in counts)
    return (
        f'<table id="counts" data-total="{sum(counts.values())}"><tr><th>saved</th>{heads}</tr>'
        f"<tr><th></th>{cells}</tr></table>"
    )


def _saved_note(prefix: str, key: str | None) -> None:
    """What the last save of this drawing did (nothing once another drawing is shown)."""
    for_key, note = st.session_state.get(prefix + "saved_note", (None, ""))
    if note and for_key == key:
        st.html(f'<p id="saved">{html.escape(note)}</p>')


def _save(store: Store, pred, prefix: str, key: str, save) -> None:
    """Run ``save`` (a thunk), remember the drawing as saved, and say what happened."""
    ss = st.session_state
    try:
        note = save()
    except DigitlabError as e:
        ss[prefix + "saved_note"] = (key, f"Not saved: {e}")
        return
    ss[prefix + "saved_key"] = key
    ss[prefix + "saved_note"] = (key, note)


def _counts(store: Store) -> None:
    try:
        st.html(counts_html(store.counts()))
    except DigitlabError as e:
        st.error(str(e))


def _delete(store: Store, example_id: int) -> None:
    try:
        store.remove(example_id)
    except DigitlabError as e:  # gone already (a double click, or deleted elsewhere)
        st.session_state["delete_note"] = f"Not deleted: {e}"


def teach_digit(store: Store | None, pred, result: dict | None, image, key: str) -> None:
    """Under a digit's answer: "Right" (it is the digit shown) and "It's a" 0-9. ``image``: the
    drawing (an array) or the upload (its bytes); ``key`` names it, so it is saved once."""
    if store is None:
        st.caption(SAVING_OFF)
        return
    if result is None or result["empty"]:
        return
    done = st.session_state.get("saved_key") == key

    def save(label: int):
        return lambda: _save(store, pred, "", key, lambda: _one(store, pred, image, label))

    st.caption("Wrong, or right? Press Right, or the digit it is: saved examples teach a personal model your writing.")
    cols = st.columns(11)
    cols[0].button("Right", key="right", disabled=done or not result["sure"], on_click=save(result["digit"]))
    for d in range(10):
        cols[d + 1].button(f"{d}", key=f"label-{d}", disabled=done, on_click=save(d))
    _saved_note("", key)
    _counts(store)


def _one(store: Store, pred, image, label: int) -> str:
    save_correction(store, pred, image, label, "app")
    return f"Saved as a {label}."


def teach_number(store: Store | None, pred, result: dict | None, image, objects: list) -> None:
    """Under a number: "Right", or the number it really is, each digit saved with its label."""
    if store is None or result is None or result.get("empty", True):
        return
    key = drawing_key(objects)
    done = st.session_state.get("number_saved_key") == key

    def save(text_of):
        return lambda: _save(store, pred, "number_", key, lambda: _digits(store, pred, image, text_of()))

    c1, c2, c3 = st.columns([1, 3, 1])
    c1.button("Right", key="number_right", disabled=done or not result["sure"], on_click=save(lambda: result["text"]))
    c2.text_input("It's", key="number_label", placeholder="the number it really is", label_visibility="collapsed")
    c3.button("Save", key="number_save", disabled=done, on_click=save(lambda: st.session_state.number_label))
    _saved_note("number_", key)
    _counts(store)


def _digits(store: Store, pred, image, text: str) -> str:
    saved = save_number(store, pred, np.asarray(image), text, "app")
    return f"Saved {len(saved)} digits of {text}."


def mine_tab(store: Store | None) -> None:
    """ "My digits": the counts, then every example, newest first, each with a delete button."""
    if store is None:
        st.info(SAVING_OFF)
        return
    note = st.session_state.pop("delete_note", None)
    if note:
        st.warning(note)
    try:
        examples = store.examples()[::-1]
    except DigitlabError as e:
        st.error(str(e))
        return
    _counts(store)
    st.caption(
        f"Saved in `{store.path}`. Train a model on them: "
        "`digitlab train --preset personal --data mnist --data mine`, then `digitlab app --model RUN`."
    )
    if not examples:
        st.html('<p id="gallery-empty">Nothing saved yet: draw a digit and press "Right" or the digit it is.</p>')
        return
    cols = st.columns(GALLERY_COLUMNS)
    for i, e in enumerate(examples):
        with cols[i % GALLERY_COLUMNS]:
            st.html(f'<figure class="example" data-id="{e.id}" data-label="{e.label}"></figure>')
            st.image(np.kron(e.prepared, np.ones((2, 2), np.uint8)), caption=f"{e.label} (#{e.id})")
            st.button("Delete", key=f"delete-{e.id}", on_click=_delete, args=(store, e.id))
