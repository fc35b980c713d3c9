"""Python anchors for crates/data/benches/readers.rs: the same files, the usual Python readers.

pynrrd for the DeepMind mask, nibabel for the same mask as .nii.gz (written by the Rust bench
into a temporary folder, so here re-written with nibabel from the NRRD), pydicom +
pylibjpeg-openjpeg for the TotalSegmentator JPEG 2000 series (HU through the modality LUT).
Median of 10 runs each.

Environment: /work/venvs/rtutils with pynrrd nibabel pydicom pylibjpeg pylibjpeg-openjpeg numpy
Run: TWINSCAN_SHARED_DATA=../shared/data /work/venvs/rtutils/bin/python scripts/bench_readers.py
"""

import glob
import os
import statistics
import tempfile
import time

import nibabel as nib
import nrrd
import numpy as np
import pydicom

root = os.environ["TWINSCAN_SHARED_DATA"]
mask = f"{root}/tcia-hn-deepmind/nrrds/test/oncologist/0522c0659/segmentations/Brain.nrrd"


def median_time(fn, n=10):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def read_nrrd():
    data, _ = nrrd.read(mask)
    return data != 0


data, hdr = nrrd.read(mask)
tmp = tempfile.mkdtemp()
nii = os.path.join(tmp, "mask.nii.gz")
aff = np.eye(4)
aff[:3, :3] = np.array(hdr["space directions"]).T * [[-1], [-1], [1]]
aff[:3, 3] = np.array(hdr["space origin"]) * [-1, -1, 1]
nib.save(nib.Nifti1Image(data.astype(np.uint8), aff), nii)


def read_nii():
    return np.asarray(nib.load(nii).dataobj) != 0


def read_dicom():
    files = glob.glob(f"{root}/real/totalsegmentator/dicom/example_ct_dicom/CT.*")
    ds = [pydicom.dcmread(f) for f in files]
    n = [np.cross(d.ImageOrientationPatient[:3], d.ImageOrientationPatient[3:]) for d in ds]
    ds.sort(key=lambda d: float(np.dot(n[0], d.ImagePositionPatient)))
    return np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in ds])


print(f"pynrrd  nrrd_gzip_u8_mask      {median_time(read_nrrd) * 1e3:8.1f} ms  {data.shape}")
print(f"nibabel nifti_gz_u8_mask       {median_time(read_nii) * 1e3:8.1f} ms")
print(f"pydicom dicom_j2k_ct_20_slices {median_time(read_dicom) * 1e3:8.1f} ms")
