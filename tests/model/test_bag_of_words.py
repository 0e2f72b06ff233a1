"""The bag-of-words text encoder, the default for text columns: its vocabulary against scikit-learn's TfidfVectorizer
on real text, fitted on the training split only, saved as JSON and read back exactly, the encoder (a sparse linear
layer that never reads a missing row), and a short CLI training on a text + tabular folder whose saved model and
processor predict the same logits in-process and as remote code in a bare process."""

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from bare_process import BLOCK_LOCAL_PACKAGES, run_bare_script
from safetensors.torch import load_file

import cldmdf.train_accelerate as train_accelerate
from cldmdf.training.outputs import save_final
from modeling_cldmdf import CLDMDFConfig, CLDMDFForSequenceClassification
from modeling_cldmdf.processing_cldmdf import CLDMDFProcessor
from modeling_cldmdf.vocabulary_cldmdf import CLDMDFVocabulary, CLDMDFVocabularyBuilder

ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ROOT / "bundled_datasets" / "womens_clothing_reviews" / "data"


def review_texts(split: str, limit: int) -> list[str]:
    """The first `limit` present review texts of a split of the bundled reviews (real text)."""
    column = pq.read_table(REVIEWS / f"{split}-00000-of-00001.parquet", columns=["review_text"]).column(0)
    return [text for text in column.to_pylist() if text is not None][:limit]


def dense_bags(ids: np.ndarray, weights: np.ndarray, width: int) -> np.ndarray:
    """Padded bags (N, L) -> the (N, width) matrix they stand for (padding adds weight 0)."""
    out = np.zeros((ids.shape[0], width))
    np.add.at(out, (np.arange(ids.shape[0])[:, None], ids), weights)
    return out


def untied_cap(builder: CLDMDFVocabularyBuilder) -> int:
    """A `max_features` whose cut falls between two different total counts, where scikit-learn (whose argsort is not
    stable) and this code must keep the same terms."""
    counts = sorted((n for t, n in builder.term_count.items() if builder.document_frequency[t] >= 2), reverse=True)
    return next(cap for cap in range(len(counts) // 2, len(counts)) if counts[cap - 1] != counts[cap])


def test_the_vocabulary_and_its_weights_equal_scikit_learns_tfidf_vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, test = review_texts("train", 300), review_texts("test", 60)
    uncapped = CLDMDFVocabularyBuilder(ngram_range=(1, 2), min_df=2).update(train)
    for cap in (None, untied_cap(uncapped)):
        reference = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=cap, sublinear_tf=True).fit(train)
        vocabulary = CLDMDFVocabularyBuilder(ngram_range=(1, 2), min_df=2, max_features=cap).update(train).build()
        assert vocabulary.terms == sorted(reference.vocabulary_, key=reference.vocabulary_.get)
        assert any(" " in term for term in vocabulary.terms)  # bigrams are terms
        np.testing.assert_allclose(vocabulary.idf, reference.idf_, rtol=1e-12)
        ids, weights = vocabulary.encode(test)
        expected = reference.transform(test).toarray()
        np.testing.assert_allclose(dense_bags(ids, weights, len(vocabulary)), expected, rtol=1e-6, atol=1e-7)


def notes_processor(**kwargs) -> CLDMDFProcessor:
    modalities = {
        "note": {"type": "text", "encoder": "bag_of_words", "vocab_size": 64},
        "x": {"type": "dense", "dim": 2},
    }
    return CLDMDFProcessor(modalities, **kwargs)


TRAIN = {"note": ["engine rattles", "engine fine", None, "fine engine, rattles"], "x": [[0.0, 1.0]] * 4}


def test_the_vocabulary_is_fitted_on_the_training_split_only_and_an_unknown_text_is_an_empty_bag():
    processor = notes_processor(bag_of_words_min_df=1).fit(TRAIN)
    vocabulary = processor.text_vocabularies["note"]
    assert vocabulary.num_documents == 3  # the missing text is no document
    assert "turbocharger" not in vocabulary.terms and "engine rattles" in vocabulary.terms
    batch = processor({"note": ["turbocharger", None, "engine fine"], "x": [[1.0, 0.0]] * 3})
    # Present but empty (no known term): present in the mask, a bag of weight 0; the missing row is all padding.
    assert batch["modality_mask"][:, 0].tolist() == [True, False, True]
    weights = batch["modality_inputs"]["note"]["per_sample_weights"]
    assert weights[0].abs().sum() == 0 and weights[1].abs().sum() == 0
    torch.testing.assert_close(weights[2].norm(), torch.tensor(1.0))
    # Fitted on the test text too, the vocabulary would know the word.
    leaked = notes_processor(bag_of_words_min_df=1).fit(
        {"note": [*TRAIN["note"], "turbocharger"], "x": [[0.0, 1.0]] * 5}
    )
    assert "turbocharger" in leaked.text_vocabularies["note"].terms


def test_a_saved_processor_reads_its_vocabulary_back_exactly(tmp_path):
    texts = review_texts("train", 200)
    processor = notes_processor().fit({"note": texts, "x": [[float(i), 1.0] for i in range(len(texts))]})
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["text_vocabularies"]["note"]["terms"] == processor.text_vocabularies["note"].terms
    assert (tmp_path / "vocabulary_cldmdf.py").is_file()  # remote code: the vocabulary travels with the processor
    reloaded = CLDMDFProcessor.from_pretrained(tmp_path)
    assert np.array_equal(reloaded.text_vocabularies["note"].idf, processor.text_vocabularies["note"].idf)
    columns = {"note": [*review_texts("test", 5), None], "x": [[0.5, 1.0]] * 6}
    first, second = processor(columns), reloaded(columns)
    for key in ("input_ids", "per_sample_weights"):
        assert torch.equal(first["modality_inputs"]["note"][key], second["modality_inputs"]["note"][key])
    state = processor.text_vocabularies["note"].to_dict()
    with pytest.raises(ValueError, match="sublinear_tf"):
        CLDMDFVocabulary.from_dict({**state, "sublinear_tf": False})
    with pytest.raises(ValueError, match="more than the 8 embedding rows"):
        CLDMDFProcessor(
            {"note": {"type": "text", "encoder": "bag_of_words", "vocab_size": 8}},
            text_vocabularies=saved["text_vocabularies"],
        )


def tiny_config(**spec) -> CLDMDFConfig:
    note = {"type": "text", "encoder": "bag_of_words", "vocab_size": 12, "embedding_dim": 6, **spec}
    return CLDMDFConfig(
        modalities={"note": note, "x": {"type": "dense", "dim": 2}},
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        feature_attention_hidden_size=8,
        projection_dim=8,
        modality_dropout=0.0,
    )


def test_the_encoder_is_a_sparse_linear_layer_that_never_reads_a_missing_row():
    torch.manual_seed(0)
    model = CLDMDFForSequenceClassification(tiny_config()).eval()
    encoder = model.cldmdf.encoders["note"]
    ids = torch.tensor([[3, 7, 0], [5, 0, 0], [0, 0, 0], [1, 2, 11]])  # row 2: an empty bag (present, no term)
    weights = torch.tensor([[0.6, 0.8, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.7071]])
    tfidf = torch.zeros(4, 12).scatter_add_(1, ids, weights)  # the TF-IDF rows these bags stand for
    with torch.no_grad():
        bag = encoder.bag(ids, per_sample_weights=weights) + encoder.bias
        torch.testing.assert_close(bag, tfidf @ encoder.bag.weight + encoder.bias, rtol=1e-6, atol=1e-7)
        tokens = encoder({"input_ids": ids, "per_sample_weights": weights}, torch.ones(4, dtype=torch.bool))
    zero_bag = encoder.fc2(torch.nn.functional.gelu(encoder.bias))
    torch.testing.assert_close(tokens[2], zero_bag)  # the empty bag's token: a learned constant of its own
    assert not torch.allclose(tokens[2], model.cldmdf.missing_embeddings[0])

    mask = torch.tensor([[True, True], [False, True], [True, True], [False, True]])
    inputs = {"note": {"input_ids": ids, "per_sample_weights": weights}, "x": torch.randn(4, 2)}
    changed = {"input_ids": ids.clone(), "per_sample_weights": weights.clone()}
    changed["input_ids"][[1, 3]] = torch.tensor([9, 10, 4])
    changed["per_sample_weights"][[1, 3]] = float("nan")
    with torch.no_grad():
        first = model(inputs, modality_mask=mask).logits
        second = model({**inputs, "note": changed}, modality_mask=mask).logits
    assert torch.equal(first, second)
    # Nor does a NaN placeholder reach a gradient (0 x NaN would be NaN in the embedding's gradient).
    model({**inputs, "note": changed}, modality_mask=mask, labels=torch.tensor([0, 1, 0, 1])).loss.backward()
    assert encoder.bag.weight.grad is not None and torch.isfinite(encoder.bag.weight.grad).all()


def test_bag_of_words_specs_are_checked():
    assert tiny_config().modalities["note"]["bag_dropout"] == 0.3  # the defaults are filled in and saved
    for bad, match in (
        ({"backbone": "bert-base-uncased"}, "give one or the other"),
        ({"vocab_size": 0}, "'vocab_size'\\]` must be a positive int, got 0"),
        ({"bag_dropout": 1.0}, "bag_dropout"),
        ({"pooling": "mean"}, "unknown keys \\['pooling'\\]"),
    ):
        with pytest.raises(ValueError, match=match):
            tiny_config(**bad)


# A text + tabular folder in Hub layout: the text says the label (with noise words); `zebra` occurs in the test split
# only.
def write_notes_folder(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    sizes = {"train": 96, "validation": 32, "test": 32}
    noise = ["the", "car", "was", "today", "very", "quite"]
    start = 0
    for split, size in sizes.items():
        labels = rng.integers(0, 2, size)
        notes = []
        for i, label in enumerate(labels):
            words = [rng.choice(["rattles", "broken"] if label else ["fine", "quiet"]), *rng.choice(noise, 3)]
            notes.append(None if i % 7 == 3 else " ".join(words) + (" zebra" if split == "test" else ""))
        table = pa.table(
            {
                "note": pa.array(notes, pa.string()),
                "x": pa.array(rng.normal(size=(size, 2)).tolist(), pa.list_(pa.float32(), 2)),
                "label": pa.array(labels, pa.int64()),
                "row_id": pa.array(np.arange(start, start + size), pa.int64()),
            }
        )
        start += size
        (folder / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder


@pytest.fixture(scope="module")
def trained_notes(tmp_path_factory):
    root = tmp_path_factory.mktemp("notes")
    folder = write_notes_folder(root / "notes")
    argv = ["--dataset_name", str(folder), "--output_dir", str(root / "out"), "--hidden_size", "32"]
    args = train_accelerate.parse_args([*argv, "--max_train_steps", "60", "--eval_missing_rates", "0,0.3"])
    run = train_accelerate.train(args)
    save_final(run, args)
    return folder, root / "out", run


def test_a_text_column_trains_as_a_bag_of_words_without_a_backbone_and_reloads_exactly(trained_notes):
    from transformers import AutoModelForSequenceClassification, AutoProcessor

    folder, out, run = trained_notes
    spec = json.loads((out / "config.json").read_text())["modalities"]["note"]
    assert spec["encoder"] == "bag_of_words" and "backbone" not in spec
    assert "| `note` | text | 10000 | bag of words" in (out / "README.md").read_text()  # the card names the encoder
    terms = run.processor.text_vocabularies["note"].terms
    assert "rattles" in terms and "zebra" not in terms  # fitted on the training split only
    assert run.results["test_accuracy"] >= 0.75  # the label is in the text: a bag of words reads it (chance: 0.5)
    test = pq.read_table(folder / "data" / "test-00000-of-00001.parquet").to_pydict()
    columns = {"note": test["note"], "x": test["x"]}
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        reloaded = model(**AutoProcessor.from_pretrained(out)(columns)).logits
        trained = run.model.eval()(**run.processor(columns)).logits
    assert torch.equal(reloaded, trained)


REMOTE_TEXT = BLOCK_LOCAL_PACKAGES + textwrap.dedent(
    """
    import json
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification, AutoProcessor

    folder, columns_path, outputs_path = sys.argv[1:4]
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(processor).__module__.startswith("transformers_modules"), type(processor).__module__
    assert type(model.cldmdf.encoders["note"]).__name__ == "CLDMDFBagOfWordsEncoder"
    with torch.no_grad():
        logits = model(**processor(json.loads(open(columns_path).read()))).logits
    save_file({"logits": logits.contiguous()}, outputs_path)
    """
)


def test_the_trained_folder_predicts_the_same_logits_as_remote_code_in_a_bare_process(trained_notes, tmp_path):
    folder, out, run = trained_notes
    test = pq.read_table(folder / "data" / "test-00000-of-00001.parquet").to_pydict()
    columns = {"note": test["note"], "x": test["x"]}
    (tmp_path / "columns.json").write_text(json.dumps(columns))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    run_bare_script(REMOTE_TEXT, [out, tmp_path / "columns.json", tmp_path / "out.safetensors"], tmp_path, env)
    with torch.no_grad():
        local = run.model.eval()(**run.processor(columns)).logits
    torch.testing.assert_close(load_file(tmp_path / "out.safetensors")["logits"], local, rtol=0, atol=1e-6)
