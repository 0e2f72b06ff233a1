"""The `cldmdf-classification` pipeline, loaded as remote code with `pipeline(model=folder, trust_remote_code=True)`
in a process that cannot import this repository."""

import json
import os
import textwrap
from pathlib import Path

import pytest
import torch
from bare_process import BLOCK_LOCAL_PACKAGES, run_bare_script

PIPELINE_SCRIPT = BLOCK_LOCAL_PACKAGES + textwrap.dedent(
    """
    import json
    from transformers import pipeline

    folder, out = sys.argv[1:3]
    classifier = pipeline(model=folder, trust_remote_code=True)
    assert type(classifier).__module__.startswith("transformers_modules"), type(classifier).__module__
    one = classifier({"a": [0.1, 0.2, 0.3], "b": None}, top_k=2)
    rows = [{"a": [0.1, 0.2, 0.3], "b": None}, {"a": None, "b": [1.0, -1.0]}]
    many = classifier(rows, top_k=None)
    top = classifier(rows)
    with open(out, "w") as file:
        json.dump({"one": one, "many": many, "top": top, "task": classifier.task}, file)
    """
)


def test_the_pipeline_loads_as_remote_code_in_a_bare_process(tiny_saved_model, tmp_path):
    model, processor, folder = tiny_saved_model
    run_bare_script(PIPELINE_SCRIPT, [folder, tmp_path / "out.json"], tmp_path, dict(os.environ, HF_HUB_OFFLINE="1"))
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["task"] == "cldmdf-classification"
    batch = processor({"a": [[0.1, 0.2, 0.3], None], "b": [None, [1.0, -1.0]]})
    with torch.no_grad():
        outputs = model(**batch)
    names = ["low", "mid", "high"]
    expected = zip(result["many"], torch.softmax(outputs.logits, -1), outputs.modality_weights)
    for answer, probabilities, weights in expected:
        ranked = probabilities.sort(descending=True)
        assert [entry["label"] for entry in answer] == [names[i] for i in ranked.indices]
        assert [entry["score"] for entry in answer] == pytest.approx(ranked.values.tolist(), abs=1e-6)
        assert sum(entry["score"] for entry in answer) == pytest.approx(1.0, abs=1e-6)
        assert answer[0]["modality_weights"] == pytest.approx(dict(zip("ab", weights.tolist())), abs=1e-6)
    assert len(result["one"]) == 2 and result["one"] == result["many"][0][:2]
    assert result["top"] == [answer[0] for answer in result["many"]]  # without top_k: the top class of each row


def readme_block(after: str) -> str:
    """The first python block of docs/model.md (the model in Python) after the line that starts with `after`."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start : text.index("```", start)]


NOT_REGISTERED = textwrap.dedent(
    """
    from transformers import AutoModelForSequenceClassification

    try:
        AutoModelForSequenceClassification.from_pretrained("my-cldmdf")
    except ValueError as error:  # transformers does not know model_type "cldmdf" without the import
        assert "trust_remote_code" in str(error), error
    else:
        raise SystemExit("loaded without `import modeling_cldmdf`: the README's import would not be needed")
    """
)


def test_the_readme_package_installed_lines_work_as_written_in_a_new_process(tiny_saved_model, tmp_path):
    model, _, _ = tiny_saved_model
    model.save_pretrained(tmp_path / "my-cldmdf")
    block = readme_block("In a new Python process")
    assert "import modeling_cldmdf" in block
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    run_bare_script(NOT_REGISTERED, [], tmp_path, env)
    installed = block[: block.index("# package not installed")]
    check = "\nassert type(model).__module__ == 'modeling_cldmdf.modeling_cldmdf', type(model).__module__\n"
    run_bare_script(installed + check, [], tmp_path, env)
    run_bare_script(block + "\nassert type(model).__name__ == 'CLDMDFForSequenceClassification'\n", [], tmp_path, env)
