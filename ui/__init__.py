"""The Streamlit front end: a citizen questionnaire and a counter-staff page.

``ui/`` only calls the engine's public functions; its words are data (``ui/text.yaml``
for the screens, ``rules/vocabulary.yaml`` for facts and explanations). The modules
without Streamlit (``answers``, ``questionnaire``, ``text``) hold the logic the tests and
the benchmark call directly.
"""
