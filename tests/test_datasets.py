import hashlib
import os

import pytest

from keras_nlg import datasets


def test_tiny_shakespeare_is_bundled_unchanged():
    text = datasets.tiny_shakespeare()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")
    with open(datasets.tiny_shakespeare_path(), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_tang_poems_are_bundled_unchanged_with_their_license():
    path = datasets.tang_poems_path()
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == "ae8049f35d94c82a83531ae4aa115b3332214514782eb8b2409d0028f9c1befa"
    license_path = os.path.join(os.path.dirname(path), "LICENSE")
    with open(license_path, encoding="utf-8") as f:
        assert "MIT License" in f.read()


def test_e2e_is_bundled_unchanged_with_its_license():
    expected = {
        "train": "f27d48df45815288ab15619d47a79028c300fbb7f42e373668aba0b98c1d57c6",
        "dev": "fc26b78cdb849c80545f513b223d1e051138b43882eeb79e3eb153e689c864f9",
    }
    for split, digest in expected.items():
        with open(datasets.e2e_path(split), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
    folder = os.path.dirname(datasets.e2e_path("dev"))
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        assert "Attribution-ShareAlike" in f.read()


def test_e2e_path_rejects_an_unknown_split():
    with pytest.raises(ValueError, match="split='test'"):
        datasets.e2e_path("test")
