import hashlib

from keras_nlg import datasets


def test_tiny_shakespeare_is_bundled_unchanged():
    text = datasets.tiny_shakespeare()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")
    with open(datasets.tiny_shakespeare_path(), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
