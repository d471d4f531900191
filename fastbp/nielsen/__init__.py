"""Drop-ins for the code of Michael Nielsen's *Neural Networks and Deep Learning*.

His ``src/network.py``, ``src/network2.py`` and ``src/mnist_loader.py``
(neuralnetworksanddeeplearning.com, and their Python 3 ports), with the same
classes, functions, attributes, data formats, printed lines and saved files,
trained by fastbp's compiled kernels. Switch by changing the import only::

    import fastbp.nielsen.mnist_loader as mnist_loader
    import fastbp.nielsen.network as network
    import fastbp.nielsen.network2 as network2

See each module's docstring for what differs from his code and why.
"""

from . import mnist_loader, network, network2

__all__ = ["mnist_loader", "network", "network2"]
