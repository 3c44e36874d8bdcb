"""Software images for jobs: resolve a reference to a digest, pull it once per node, unpack it safely, run in it.

``core.images`` checks references (pure); here: ``registry`` (skopeo), ``unpack`` (layers into a root
filesystem), ``cache`` (background pulls shared by jobs), ``stage`` (the controller's gate before a start),
``launch`` (bubblewrap with the image at ``/``) and ``gpu`` (the placed NVIDIA devices inside). docs/images.md
says why these tools.
"""
