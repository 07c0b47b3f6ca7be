"""The bundled example print (installed with Mendel as mendel.examples)."""
