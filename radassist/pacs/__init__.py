"""The PACS-side hook: DICOM receiver, Orthanc watcher, batch, Structured Report."""
