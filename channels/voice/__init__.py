"""The voice channel: phone calls through FreeSWITCH's event socket."""
