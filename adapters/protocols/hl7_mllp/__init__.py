"""HL7 v2 ORU^R01 (IHE PCD-01) over MLLP: the decoder and its emulator."""
