"""From checkpoint to device: `zoo export` (ONNX / TorchScript with a metadata sidecar) and streaming inference.

`zoo.deploy.export` needs torch; `zoo.deploy.stream` needs only numpy, onnxruntime and the sidecar (it must
never import torch: a test checks it), so this package imports neither on its own.
"""
