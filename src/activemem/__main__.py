"""``python -m activemem``: the ``activemem`` command (``activemem/cli.py``)."""

from activemem.cli import main

if __name__ == "__main__":
    main()
