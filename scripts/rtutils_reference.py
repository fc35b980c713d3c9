"""A tiny CT series + RTSTRUCT and rt-utils 1.2.7's masks for it: the reference that
twinscan-data's DICOM CT reader + RTSTRUCT rasteriser must reproduce exactly.

Writes into OUT (default crates/data/tests/fixtures/rtutils_case):
  ct/*.dcm       6 axial CT slices, 24x24, PixelSpacing 0.8 mm, 2.5 mm apart, int16 with
                 RescaleIntercept -1024; file names and InstanceNumber run opposite to z
  rtstruct.dcm   written by rt-utils from masks (a ring with a hole, two blobs, a concave
                 shape, an empty ROI), then every ContourData point jittered by up to
                 +-0.7 pixel so rounding (np.around, half to even) and cv2.fillPoly matter
  masks.json     rt-utils' own rasterisation of rtstruct.dcm (RTStructBuilder.create_from +
                 get_roi_mask_by_name): per ROI, per slice (rt-utils' sorted order =
                 ascending position), rows of '0'/'1'

Environment: python3 -m venv /work/venvs/rtutils && /work/venvs/rtutils/bin/pip install
rt-utils pydicom opencv-python-headless numpy
Run: /work/venvs/rtutils/bin/python scripts/rtutils_reference.py
"""

import json
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from rt_utils import RTStructBuilder

N, NZ, PS, DZ = 24, 6, 0.8, 2.5
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def write_ct(out, rng):
    os.makedirs(os.path.join(out, "ct"), exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(NZ):
        z = -40.25 + k * DZ
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CT_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.PatientID = "RTU-1"
        ds.PatientName = "rtutils^case"
        ds.StudyInstanceUID = study
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20240101", "120000", "1"
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = frame
        ds.InstanceNumber = NZ - k
        ds.ImagePositionPatient = [-9.3, -10.1, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [PS, PS]
        ds.SliceThickness = 3.0
        ds.Rows, ds.Columns = N, N
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        px = rng.integers(0, 2000, (N, N)).astype(np.int16)
        ds.PixelData = px.tobytes()
        # file names run opposite to z as well
        ds.save_as(os.path.join(out, "ct", f"slice{NZ - k:02d}.dcm"), enforce_file_format=True)


def masks():
    yy, xx = np.mgrid[0:N, 0:N]
    m = {}
    r = np.hypot(xx - 11.3, yy - 12.6)
    ring = (r < 9.2) & (r > 4.1)
    m["Ring"] = np.stack([ring if 1 <= k <= 4 else np.zeros_like(ring) for k in range(NZ)], 2)
    blobs = (np.hypot(xx - 5, yy - 5) < 3.5) | (np.hypot(xx - 18, yy - 17) < 4.2)
    m["Blobs"] = np.stack([blobs if k != 3 else np.zeros_like(blobs) for k in range(NZ)], 2)
    concave = ((xx > 3) & (xx < 20) & (yy > 4) & (yy < 19)) & ~((xx > 8) & (yy > 8) & (yy < 15))
    m["Concave"] = np.stack([concave if k >= 2 else np.zeros_like(concave) for k in range(NZ)], 2)
    m["Empty"] = np.zeros((N, N, NZ), bool)
    return m


def main(out):
    rng = np.random.default_rng(7)
    write_ct(out, rng)
    rt = RTStructBuilder.create_new(dicom_series_path=os.path.join(out, "ct"))
    for name, mask in masks().items():
        rt.add_roi(mask=mask, name=name)
    for roi in rt.ds.ROIContourSequence:
        for c in getattr(roi, "ContourSequence", []):
            pts = np.array(c.ContourData, float).reshape(-1, 3)
            pts[:, :2] += rng.uniform(-0.7 * PS, 0.7 * PS, (len(pts), 2))
            c.ContourData = [float(f"{v:.4f}") for v in pts.ravel()]
    rt.save(os.path.join(out, "rtstruct.dcm"))
    back = RTStructBuilder.create_from(os.path.join(out, "ct"), os.path.join(out, "rtstruct.dcm"))
    ref = {"frame_of_reference_uid": back.ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID,
           "rois": {}}
    for name in back.get_roi_names():
        m = back.get_roi_mask_by_name(name)
        ref["rois"][name] = [["".join("1" if v else "0" for v in row) for row in m[:, :, k]]
                             for k in range(m.shape[2])]
        print(name, int(m.sum()))
    with open(os.path.join(out, "masks.json"), "w") as f:
        json.dump(ref, f, indent=0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/data/tests/fixtures/rtutils_case")
