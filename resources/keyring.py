from pathlib import Path

import dagster as dg

from lepton.crypto.keyring import Keyring, load_master_key


class KeyringResource(dg.ConfigurableResource):
    """Only paths live here; the master key itself comes from LEPTON_MASTER_KEY or the
    0600 key file, never from run config, so it cannot show in the Dagster UI."""

    key_file: str
    keyring_path: str

    def keyring(self) -> Keyring:
        return Keyring(Path(self.keyring_path), load_master_key(Path(self.key_file)))
