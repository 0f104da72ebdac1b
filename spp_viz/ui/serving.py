"""What serving behind a proxy adds to the page: the replica's name, and an upload another replica holds.

The replica's name comes from :func:`spp_viz.replica.identity` with the server's own
``server.address`` and ``server.port``. After a failover the browser still names its file in the
uploader, but this process never received it: Streamlit then holds a ``DeletedFile`` for the
widget, and the page says in one line to upload again. A page whose replica went away while its
script was idle runs again on the new replica as soon as it has reconnected (see
:func:`replica_caption`).
"""

from __future__ import annotations

import streamlit as st

from .. import replica
from ..i18n import _
from . import state, words
from .streamlit_private import is_deleted_upload

UPLOAD_KEYS = (state.KEY_IMAGE, state.KEY_CAMERA, state.KEY_CHECKPOINT)
REPLICA_KEY = "served_by"  # the caption's container key
UPLOAD_LOST_KEY = "upload_lost"
RECONNECT_PROBE_S = 60  # the caption fragment's timer (see replica_caption)


def replica_name() -> str:
    return replica.identity(st.get_option("server.address"), st.get_option("server.port"))


def replica_footer() -> None:
    """The replica's caption, only where the app runs as replicas (:func:`spp_viz.replica.as_replica`);
    a single app's page has no such line (nor its timer)."""
    if replica.as_replica():
        replica_caption()


@st.fragment(run_every=RECONNECT_PROBE_S)
def replica_caption() -> None:
    """``served by replica 127.0.0.1:8603`` at the foot of the page.

    A fragment that reruns alone every :data:`RECONNECT_PROBE_S` (a caption: nothing else runs).
    Its timer is what makes a reconnected page run again: Streamlit's browser side asks for a
    full run after a reconnect only while the script was running or the page has such a timer,
    and after a failover the replica that takes the page over has no session for it until then.
    """
    with st.container(key=REPLICA_KEY):
        st.caption(words.served_by(replica_name()))


def upload_lost() -> bool:
    """True when an uploader names a file that this process does not hold."""
    return any(is_deleted_upload(st.session_state.get(key)) for key in UPLOAD_KEYS)


def lost_upload_notice() -> None:
    """One line (``upload_lost``) when the page's upload stayed with another replica."""
    if upload_lost():
        with st.container(key=UPLOAD_LOST_KEY):
            st.warning(_(words.UPLOAD_LOST))
