"""emotrace.features: pure-core feature extraction (never imports apache_beam).

faces         RetinaFace-MobileNet0.25 detector (onnxruntime, CPU)      -> FaceDetection per face
full_frame    the full-frame pass: proposals + zoomed second looks      -> small faces too (issue 18)
roi_detect    full frames every k-th frame, regions around faces between -> faces per analysis frame
align         5-point similarity warp onto the ArcFace template          -> aligned RGB crops
tracking      IoU + looks + velocity, Hungarian                          -> stable track ids per video
acoustic_lld  frame-level acoustic descriptors every 10 ms (librosa)
acoustics     per-step summaries, streamed chunk-invariantly            -> float32[n, D] per grid step
windows       the step grid that joins both modalities into model windows

Import the submodule you need: this package imports nothing heavy on its own.
"""
