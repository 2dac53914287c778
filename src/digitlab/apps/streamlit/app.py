"""The drawing app: draw a digit or a number (mouse, pen or touch) or upload a photo of one,
and watch the prediction. Started by ``digitlab app``; run it by hand with
``streamlit run src/digitlab/apps/streamlit/app.py -- --model PATH [--store FILE]``
(saving corrections only with ``--store``).

Only the page lives here. Preprocessing and prediction are
:meth:`digitlab.inference.Predictor.predict_image`, the same path as
``digitlab predict``. For tests and tools the shown prediction is the element
``#prediction``: its ``data-digit`` holds the digit, and is empty while there is
none (empty canvas, "not sure" or not a digit); ``data-state`` is ``empty``, ``sure``,
``unsure`` or ``not-a-digit``. The Number tab's is ``#number``, whose ``data-text`` holds
what was read (digits, separators, ``?`` for marks that are no digit).
``#active-model`` names the model answering; corrections and the "My digits" tab are
:mod:`digitlab.apps.streamlit.mine_view`.
"""

from __future__ import annotations

import argparse
import html
import sys

import numpy as np
import pandas as pd
import streamlit as st

from digitlab.apps.streamlit.launch import MAX_UPLOAD_MB  # also Streamlit's server.maxUploadSize
from digitlab.apps.streamlit.mine_view import drawing_key, mine_tab, teach_digit, teach_number, upload_key
from digitlab.apps.streamlit.views import boxed, number_html, prediction_html
from digitlab.core.errors import DigitlabError
from digitlab.core.rundir import model_name, personal_summary
from digitlab.data import load_image
from digitlab.data.mine import Store
from digitlab.inference import Predictor, find_default_model

CANVAS = 280  # CSS pixels; the synthetic drawings in digitlab.data.drawings use the same field
NUMBER_WIDTH = 3 * CANVAS  # the Number tab's canvas: about 3:1, room for six digits

STYLE = """<style>
#prediction .digit { font-size: 6rem; font-weight: 700; line-height: 1; }
#prediction .unsure { font-size: 2.2rem; font-weight: 600; line-height: 1.3; }
#prediction .hint, #number .hint { font-size: 1.1rem; opacity: 0.75; }
#number .number { font-size: 4rem; font-weight: 700; letter-spacing: 0.15em; line-height: 1.1; }
#number .unsure-digit { color: #f0a020; text-decoration: underline dotted; }
</style>"""


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--model", default=None)
    p.add_argument("--store", default=None)  # the corrections store; "" switches saving off
    return p.parse_known_args(sys.argv[1:])[0]


def active_model_html(pred: Predictor) -> str:
    """``#active-model``: which model answers (``data-name``), and for a personal model how it reads
    its owner's held-out examples."""
    name, note, mine = model_name(pred.path), "", personal_summary(pred.path)
    if mine is not None:
        held = mine["after"].get("yours, held out", {})
        note = f": your personal model, trained on {mine['yours']['train']} of your examples"
        if held.get("images"):
            note += f", {held['accuracy']:.0%} of {held['images']} held out read right"
    return (
        f'<p id="active-model" data-name="{html.escape(name)}">Model: <b>{html.escape(name)}</b>{html.escape(note)}</p>'
    )


@st.cache_resource(show_spinner="Loading the model...")
def get_predictor(path: str) -> Predictor:
    return Predictor.load(path)


def show_result(result: dict | None, hint: str) -> None:
    st.html(prediction_html(result, hint))
    if result is None or result["empty"]:
        return
    probs = pd.DataFrame({"probability": result["probabilities"]}, index=[str(d) for d in range(10)])
    probs.index.name = "digit"
    st.bar_chart(probs, height=180, y_label="probability", x_label="digit")
    seen = np.kron(result["input"], np.ones((5, 5), np.float32))  # crisp pixels, not browser smoothing
    st.image(seen, caption="What the model saw: 28x28, prepared like MNIST", width=140, clamp=True)


def load_into_canvas(objects: list, prefix: str = "") -> None:
    """Make the canvas show ``objects``: a changed initial_drawing (a new revision
    number, even for the same objects) makes it load them and send its image back."""
    ss = st.session_state
    ss[prefix + "rev"] = ss.get(prefix + "rev", 0) + 1
    ss[prefix + "initial"] = {"objects": objects, "digitlab_rev": ss[prefix + "rev"]}


def drawing(read, brush: int, width: int, prefix: str = "") -> None:
    """A canvas with Undo and Clear whose drawing ``read`` answers into ``session_state[prefix + "result"]``
    on every pen-up; ``prefix`` keeps two canvases' states apart."""
    # Imported here: the component registers itself on import, which needs a running Streamlit.
    from streamlit_drawable_canvas import st_canvas

    ss = st.session_state
    ss.setdefault(prefix + "initial", {"objects": []})
    ss.setdefault(prefix + "objects", [])

    def replace_drawing(objects: list) -> None:
        load_into_canvas(objects, prefix)
        ss[prefix + "objects"] = objects
        ss[prefix + "result"] = None

    canvas = st_canvas(
        stroke_width=brush,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS,
        width=width,
        drawing_mode="freedraw",
        initial_drawing=ss[prefix + "initial"],
        return_image_data=True,
        update_streamlit=True,
        key=prefix + "canvas",
    )
    objects = (canvas.json_data or {}).get("objects", [])
    image = canvas.image_data
    # Right after Undo/Clear the canvas still reports the old drawing until it
    # has loaded the new one; only a drawing that matches is read.
    if image is not None and len(objects) >= len(ss[prefix + "initial"]["objects"]):
        ss[prefix + "objects"] = objects
        ss[prefix + "result"] = read(image) if objects else None
    b1, b2, _ = st.columns([1, 1, 2] if width == CANVAS else [1, 1, 6])
    b1.button(
        "Undo",
        on_click=lambda: replace_drawing(ss[prefix + "objects"][:-1]),
        disabled=not ss[prefix + "objects"],
        key=prefix + "undo",
        use_container_width=True,
    )
    b2.button(
        "Clear",
        on_click=lambda: replace_drawing([]),
        disabled=not ss[prefix + "objects"],
        key=prefix + "clear",
        use_container_width=True,
    )


def draw_tab(pred: Predictor, brush: int, store: Store | None) -> None:
    left, right = st.columns([1, 1], gap="large")
    with left:
        drawing(lambda image: {**pred.predict_image(image), "image": image}, brush, CANVAS)
    ss = st.session_state
    result = ss.get("result")
    with right:
        show_result(result, "Draw a digit in the black box: the prediction appears when you lift the pen.")
    teach_digit(store, pred, result, result and result["image"], drawing_key(ss.get("objects", [])))


def number_tab(pred: Predictor, brush: int, store: Store | None) -> None:
    ss = st.session_state

    def read(image):
        try:
            return {**pred.read_number(image), "image": image}
        except DigitlabError as e:  # e.g. too many marks: say so, keep the canvas and its buttons
            return {"error": str(e), "empty": True}

    drawing(read, brush, NUMBER_WIDTH, prefix="number_")
    result = ss.get("number_result")
    if result is not None and "error" in result:
        st.error(result["error"])
    st.html(number_html(result))
    if result is not None and not result["empty"]:
        st.image(boxed(result["image"], result), caption="The digits found, left to right", width=NUMBER_WIDTH // 2)
    teach_number(store, pred, result, result and result.get("image"), ss.get("number_objects", []))


def upload_tab(pred: Predictor, store: Store | None) -> None:
    left, right = st.columns([1, 1], gap="large")
    result = up = None
    with left:
        up = st.file_uploader(
            f"A PNG or JPEG of one digit, either polarity, up to {MAX_UPLOAD_MB} MB "
            "(a phone photo of a digit on paper works)",
            type=["png", "jpg", "jpeg"],
            key="upload",
        )
        if up is not None:
            if up.size > MAX_UPLOAD_MB * 1024 * 1024:
                st.error(f"{up.name} is {up.size / 1e6:.1f} MB; upload an image under {MAX_UPLOAD_MB} MB")
            else:
                try:
                    image = load_image(up.getvalue(), name=up.name)
                    result = pred.predict_image(image)
                except DigitlabError as e:
                    st.error(str(e))
                else:
                    st.image(image, caption=up.name, width=240)
    with right:
        show_result(result, "Upload an image to read the digit in it.")
    if result is not None:
        data = up.getvalue()
        teach_digit(store, pred, result, data, upload_key(data))


def main() -> None:
    st.set_page_config(page_title="digitlab: draw a digit", page_icon="✍️", layout="wide")
    st.html(STYLE)
    args = _args()
    try:
        path = args.model or str(find_default_model())
        pred = get_predictor(path)
    except DigitlabError as e:
        st.error(f"{e}")
        st.stop()
    # Saving only where `digitlab app` named a store: run by hand, Streamlit listens on every address.
    store = Store(args.store) if args.store else None
    st.title("digitlab: draw a digit")
    st.html(active_model_html(pred))
    with st.sidebar:
        st.header("Settings")
        brush = st.slider("Brush width (pixels)", 4, 40, 18, key="brush")
        st.header("Model")
        metrics = pred.checkpoint.get("metrics", {})
        st.markdown(
            f"`{pred.path.parent.name}/{pred.path.name}`  \n{pred.checkpoint['model']['arch']}, epoch {metrics.get('epoch', '?')}"
        )
        cal = "chosen on its validation set" if pred.calibration else "a default: run `digitlab evaluate` to choose it"
        st.markdown(f'"Not sure" below {pred.threshold:.0%} confidence ({cal}).')
    tabs = st.tabs(["Draw", "Number", "Upload", "My digits"], key="tab", on_change="rerun")
    # Only the open tab runs, so the page holds one #prediction (or #number).
    ss = st.session_state
    for i, (prefix, tab) in enumerate((("", draw_tab), ("number_", number_tab))):
        if tabs[i].open:
            if ss.get("open_tab", i) != i and ss.get(prefix + "objects"):
                load_into_canvas(ss[prefix + "objects"], prefix)  # the canvas was unmounted: give it its drawing back
            ss.open_tab = i
            with tabs[i]:
                tab(pred, brush, store)
    for i, tab in ((2, lambda: upload_tab(pred, store)), (3, lambda: mine_tab(store))):
        if tabs[i].open:
            ss.open_tab = i
            with tabs[i]:
                tab()


if __name__ == "__main__":  # how Streamlit runs a script; importing it (tests) draws nothing
    main()
