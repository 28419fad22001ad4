import hashlib
import os

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
