from komerbij.runtime.service import serve
from probe import spec

serve(spec())
