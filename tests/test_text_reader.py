"""The report-text reader: concepts, statuses, scope, sections, patterns (report-text.md)."""

from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radassist.model import CONCEPTS, PATTERN_SIGNIFICANCE, STATUS_PRECEDENCE, TextFindings
from radassist.text import read_report
from radassist.text.lexicon import leading_alternatives, load_lexicon


def status(text: str, concept: str):
    return read_report(text).status_of(concept)


def assert_spans_index(text: str, findings: TextFindings) -> None:
    for finding in findings.concepts:
        for evidence in finding.evidence:
            assert text[evidence.start:evidence.end] == evidence.text
            assert evidence.status in STATUS_PRECEDENCE
    for mention in findings.pattern_mentions:
        assert text[mention.evidence.start:mention.evidence.end] == mention.evidence.text


# (text, concept, expected status); None means the concept is not found at all.
CASES = [
    # --- present: affirmed, current -------------------------------------------------
    ("calf swelling", "swelling", "present"),
    ("Palpable mass.", "soft_tissue_mass", "present"),
    ("Known diabetic.", "diabetes", "present"),
    ("L calf swolen and tender", "swelling", "present"),
    ("LEFT CALF PAIN", "pain", "present"),
    ("Painful lump in the calf.", "pain", "present"),
    ("Tender calf.", "pain", "present"),
    ("Calf sore since the weekend.", "pain", "present"),
    ("Bilateral lower extremity edema.", "swelling", "present"),
    ("Oedema of the left leg.", "swelling", "present"),
    ("Enlarged calf circumference on the left.", "swelling", "present"),
    ("Warm, red calf.", "warmth_redness", "present"),
    ("Erythema over the shin.", "warmth_redness", "present"),
    ("Cellulitis-like redness of the leg.", "warmth_redness", "present"),
    ("Difficulty walking.", "functional_limitation", "present"),
    ("Walks with a limp.", "functional_limitation", "present"),
    ("Unable to bear weight on the left leg.", "functional_limitation", "present"),
    ("Reduced range of motion of the knee.", "functional_limitation", "present"),
    ("Growing lesion in the calf.", "soft_tissue_mass", "present"),
    ("Firm nodule, left calf.", "soft_tissue_mass", "present"),
    ("Swelling described as a lump.", "soft_tissue_mass", "present"),
    ("Rapidly enlarging calf mass.", "malignancy_concern", "present"),
    ("Rapidly growing lump.", "malignancy_concern", "present"),
    ("Known soft tissue sarcoma.", "malignancy_concern", "present"),
    ("Metastatic breast cancer.", "malignancy_concern", "present"),
    ("Tumour of the calf.", "malignancy_concern", "present"),
    ("Fall onto the left leg.", "trauma_history", "present"),
    ("MVC this morning.", "trauma_history", "present"),
    ("Motor vehicle collision.", "trauma_history", "present"),
    ("Kicked during football, sports injury.", "trauma_history", "present"),
    ("Laceration of the calf.", "trauma_history", "present"),
    ("Blow to the shin.", "trauma_history", "present"),
    ("Old injury to the calf.", "trauma_history", "historical"),
    ("Compartment syndrome of the left leg.", "compartment_syndrome_history", "present"),
    ("DVT left leg.", "dvt_suspected", "present"),
    ("Deep vein thrombosis of the popliteal vein.", "dvt_suspected", "present"),
    ("Known VTE on anticoagulation.", "dvt_suspected", "present"),
    ("Thrombus in the popliteal vein.", "dvt_suspected", "present"),
    ("PAD.", "vascular_disease", "present"),
    ("Peripheral arterial disease.", "vascular_disease", "present"),
    ("Type 2 diabetic, claudication.", "vascular_disease", "present"),
    ("Type 2 diabetic, claudication.", "diabetes", "present"),
    ("T2DM on metformin.", "diabetes", "present"),
    ("DM2.", "diabetes", "present"),
    ("IDDM since childhood.", "diabetes", "present"),
    ("Chronic venous insufficiency.", "venous_insufficiency", "present"),
    ("CVI with varicose veins.", "venous_insufficiency", "present"),
    ("Venous stasis changes.", "venous_insufficiency", "present"),
    ("Chest pain since this morning.", "chest_pain", "present"),
    ("Pleuritic pain on inspiration.", "chest_pain", "present"),
    ("Chest tightness.", "chest_pain", "present"),
    ("SOB on exertion.", "dyspnea", "present"),
    ("Shortness of breath.", "dyspnea", "present"),
    ("Breathless.", "dyspnea", "present"),
    ("Dyspnoea.", "dyspnea", "present"),
    ("Myositis ossificans of the calf.", "ossification_question", "present"),
    ("Heterotopic ossification.", "ossification_question", "present"),
    ("Ossification versus calcification in the calf.", "ossification_question", "present"),
    ("Ossification vs calcification?", "ossification_question", "possible"),
    ("Ultrasound last week was inconclusive.", "prior_us_inconclusive", "present"),
    ("US indeterminate.", "prior_us_inconclusive", "present"),
    ("Prior sonogram non-diagnostic.", "prior_us_inconclusive", "present"),
    ("Equivocal ultrasound.", "prior_us_inconclusive", "present"),
    ("Prior ultrasound negative.", "prior_us_negative", "present"),
    ("Ultrasound 2 weeks ago was unremarkable.", "prior_us_negative", "present"),
    ("Normal ultrasound of the calf last month.", "prior_us_negative", "present"),
    # --- absent: negated ----------------------------------------------------------------
    ("No swelling.", "swelling", "absent"),
    ("Denies calf pain.", "pain", "absent"),
    ("Leg without erythema.", "warmth_redness", "absent"),
    ("Negative for DVT.", "dvt_suspected", "absent"),
    ("Free of pain.", "pain", "absent"),
    ("DVT ruled out.", "dvt_suspected", "absent"),
    ("Mass not seen on today's film.", "soft_tissue_mass", "absent"),
    ("The swelling has resolved.", "swelling", "absent"),
    ("Swelling resolved.", "swelling", "absent"),
    ("No fever, chills or chest pain.", "chest_pain", "absent"),
    ("Denies SOB, chest pain, calf swelling.", "swelling", "absent"),
    ("No history of DVT.", "dvt_suspected", "absent"),
    ("Denies chest pain.", "chest_pain", "absent"),
    ("Non-diabetic.", "diabetes", "absent"),
    ("Calf is soft and nontender.", "pain", "absent"),
    ("Slowly growing painless lump.", "pain", "absent"),
    ("Ambulates without difficulty.", "functional_limitation", "absent"),
    ("No evidence of fracture.", "trauma_history", "absent"),
    ("No known trauma.", "trauma_history", "absent"),
    ("No prior DVT.", "dvt_suspected", "absent"),
    ("Pt w/o swelling.", "swelling", "absent"),
    ("Malignancy is unlikely.", "malignancy_concern", "absent"),
    # --- a negative venous duplex --------------------------------------------------------
    ("Duplex negative for DVT.", "dvt_suspected", "absent"),
    ("Duplex negative for DVT.", "prior_us_negative", None),
    ("No DVT on duplex.", "dvt_suspected", "absent"),
    ("Negative venous Doppler of the left leg.", "dvt_suspected", "absent"),
    ("Venous duplex last week was normal.", "dvt_suspected", "absent"),
    ("Venous duplex last week was normal.", "prior_us_negative", None),
    ("Ultrasound negative for DVT.", "dvt_suspected", "absent"),
    ("Ultrasound negative for DVT.", "prior_us_negative", None),
    ("Negative D-dimer.", "dvt_suspected", "absent"),
    # --- possible: hedged or to be excluded -------------------------------------------------
    ("R/o DVT.", "dvt_suspected", "possible"),
    ("Rule out DVT.", "dvt_suspected", "possible"),
    ("? DVT", "dvt_suspected", "possible"),
    ("?DVT", "dvt_suspected", "possible"),
    ("Calf swelling, DVT?", "dvt_suspected", "possible"),
    ("Calf swelling, DVT?", "swelling", "present"),
    ("Query DVT.", "dvt_suspected", "possible"),
    ("Suspected DVT.", "dvt_suspected", "possible"),
    ("DVT suspected.", "dvt_suspected", "possible"),
    ("Concern for sarcoma.", "malignancy_concern", "possible"),
    ("Cannot exclude DVT.", "dvt_suspected", "possible"),
    ("DVT cannot be excluded.", "dvt_suspected", "possible"),
    ("Possible soft tissue mass.", "soft_tissue_mass", "possible"),
    ("Evaluate for DVT.", "dvt_suspected", "possible"),
    ("May represent myositis ossificans.", "ossification_question", "possible"),
    ("? myositis ossificans", "ossification_question", "possible"),
    ("Probable hematoma vs sarcoma.", "malignancy_concern", "possible"),
    ("Positive D-dimer.", "dvt_suspected", "possible"),
    ("Elevated D-dimer, calf pain.", "dvt_suspected", "possible"),
    ("Suspicious for malignancy.", "malignancy_concern", "possible"),
    ("Ultrasound to evaluate for DVT.", "dvt_suspected", "possible"),
    # --- historical -----------------------------------------------------------------------
    ("History of DVT.", "dvt_suspected", "historical"),
    ("H/o DVT 2015.", "dvt_suspected", "historical"),
    ("Hx of fracture.", "trauma_history", "historical"),
    ("S/p fasciotomy.", "compartment_syndrome_history", "historical"),
    ("Status post fall.", "trauma_history", "historical"),
    ("Prior DVT.", "dvt_suspected", "historical"),
    ("Remote trauma to the calf.", "trauma_history", "historical"),
    ("Tibial fracture years ago.", "trauma_history", "historical"),
    ("Fractured tibia in 2015.", "trauma_history", "historical"),
    ("In 2012 she had a DVT.", "dvt_suspected", "historical"),
    ("Crush injury 30 years ago.", "trauma_history", "historical"),
    ("PAST MEDICAL HISTORY: Diabetes, PAD.", "diabetes", "historical"),
    ("PMH: DVT", "dvt_suspected", "historical"),
    ("Healed fracture of the fibula.", "trauma_history", "historical"),
    # --- other_person -----------------------------------------------------------------------
    ("Family history of DVT.", "dvt_suspected", "other_person"),
    ("Mother had a DVT.", "dvt_suspected", "other_person"),
    ("His father had diabetes.", "diabetes", "other_person"),
    ("Sarcoma in her brother.", "malignancy_concern", "other_person"),
    ("FAMILY HISTORY: Diabetes and DVT.", "dvt_suspected", "other_person"),
    ("FAMILY HISTORY: No DVT.", "dvt_suspected", "other_person"),
    ("No family history of sarcoma.", "malignancy_concern", "other_person"),
    ("FHx: diabetes", "diabetes", "other_person"),
    # --- hypothetical -------------------------------------------------------------------------
    ("DVT prophylaxis.", "dvt_suspected", "hypothetical"),
    ("Enoxaparin for DVT prophylaxis.", "dvt_suspected", "hypothetical"),
    ("Prophylaxis against DVT.", "dvt_suspected", "hypothetical"),
    ("Risks include bleeding, infection and DVT.", "dvt_suspected", "hypothetical"),
    ("Return if chest pain.", "chest_pain", "hypothetical"),
    ("If swelling develops, return to the ED.", "swelling", "hypothetical"),
    ("Paracetamol as needed for pain.", "pain", "hypothetical"),
    ("Tramadol prn pain.", "pain", "hypothetical"),
    ("At risk for DVT.", "dvt_suspected", "hypothetical"),
    ("Monitor for compartment syndrome.", "compartment_syndrome_history", "hypothetical"),
    ("Risks, benefits and alternatives were discussed, including infection, DVT and stiffness.",
     "dvt_suspected", "hypothetical"),
    # --- limb site rule -------------------------------------------------------------------------
    ("Chest pain.", "pain", None),
    ("Chest pain.", "chest_pain", "present"),
    ("Abdominal pain.", "pain", None),
    ("Low back pain.", "pain", None),
    ("Back pain and abdominal pain.", "pain", None),
    ("Pain in the chest.", "chest_pain", "present"),
    ("Pain in the chest.", "pain", None),
    ("Neck mass.", "soft_tissue_mass", None),
    ("Sore throat.", "pain", None),
    ("Shoulder pain and calf swelling.", "swelling", "present"),
    ("Shoulder pain and calf swelling.", "pain", None),
    ("Pain in the back of the knee.", "pain", "present"),
    ("Pain left calf.", "pain", "present"),
    ("Pain.", "pain", "present"),
    ("Abdomen: soft, nontender.", "pain", None),
    ("Mass in the right thigh.", "soft_tissue_mass", "present"),
    ("Pulmonary nodule.", "soft_tissue_mass", None),
    # --- scope ---------------------------------------------------------------------------------
    ("No fracture. Swelling of the calf.", "swelling", "present"),
    ("No fracture. Swelling of the calf.", "trauma_history", "absent"),
    ("No swelling, possible DVT.", "dvt_suspected", "possible"),
    ("No swelling, possible DVT.", "swelling", "absent"),
    ("No fracture but soft tissue swelling.", "swelling", "present"),
    ("Denies chest pain, however reports calf pain.", "pain", "present"),
    ("No fracture; swelling of the calf.", "swelling", "present"),
    ("History of DVT, now presenting with calf swelling.", "swelling", "present"),
    ("R/o DVT. New shortness of breath.", "dyspnea", "present"),
    ("Mother had DVT; patient has calf swelling.", "swelling", "present"),
    ("No effusion, the calf is swollen.", "swelling", "present"),
    ("Negative for fracture and there is soft tissue swelling.", "swelling", "present"),
    # --- pseudo-cues -----------------------------------------------------------------------------
    ("No change in the calf mass.", "soft_tissue_mass", "present"),
    ("No increase in size of the mass.", "soft_tissue_mass", "present"),
    ("Not only swelling but also pain.", "swelling", "present"),
    ("Gram-negative cellulitis of the leg.", "warmth_redness", "present"),
    ("No significant interval change in the calf swelling.", "swelling", "present"),
    ("Swelling prior to admission.", "swelling", "present"),
    ("61-year-old with calf pain.", "pain", "present"),
    ("Body mass index 31.", "soft_tissue_mass", None),
    ("Red blood cells normal.", "warmth_redness", None),
    ("Extremities warm and well perfused.", "warmth_redness", None),
]


@pytest.mark.parametrize(("text", "concept", "expected"), CASES,
                         ids=[f"{c[1]}:{c[0][:40]}" for c in CASES])
def test_concept_status(text, concept, expected):
    findings = read_report(text)
    assert findings.status_of(concept) == expected
    assert_spans_index(text, findings)


def test_every_concept_and_status_is_covered_by_cases():
    concepts = {c for _, c, s in CASES if s is not None}
    statuses = {s for _, _, s in CASES if s is not None}
    assert concepts == set(CONCEPTS)
    assert statuses == set(STATUS_PRECEDENCE)


# --- every example term of the concept table, and each concept in every form --------------

TERM_EXAMPLES = {
    "trauma_history": ["injury", "crush", "fall", "blow to the calf", "kicked", "laceration",
                       "fracture", "MVC", "motor vehicle collision", "sports injury"],
    "compartment_syndrome_history": ["compartment syndrome", "fasciotomy"],
    "dvt_suspected": ["DVT", "deep vein thrombosis", "deep venous thrombosis", "clot", "thrombus",
                      "VTE"],
    "soft_tissue_mass": ["mass", "lump", "nodule", "swelling described as a lump", "growing lesion"],
    "malignancy_concern": ["sarcoma", "malignancy", "malignant", "neoplasm", "tumour", "tumor",
                           "cancer", "metastasis", "rapidly enlarging", "rapidly growing"],
    "pain": ["pain", "ache", "tenderness", "painful", "sore"],
    "swelling": ["swelling", "swollen", "edema", "oedema", "enlarged calf circumference"],
    "warmth_redness": ["warm", "warmth", "erythema", "redness", "red", "cellulitis-like"],
    "functional_limitation": ["difficulty walking", "limp", "unable to bear weight",
                              "reduced range of motion"],
    "vascular_disease": ["PAD", "PVD", "peripheral arterial disease", "peripheral vascular disease",
                         "claudication", "atherosclerosis", "arterial insufficiency"],
    "diabetes": ["diabetes", "diabetic", "DM", "DM1", "DM2", "T2DM", "IDDM", "NIDDM"],
    "venous_insufficiency": ["chronic venous insufficiency", "CVI", "varicose veins", "venous stasis"],
    "chest_pain": ["chest pain", "pleuritic pain", "chest tightness"],
    "dyspnea": ["shortness of breath", "SOB", "breathless", "dyspnea", "dyspnoea"],
    "prior_us_inconclusive": ["prior ultrasound inconclusive", "prior US indeterminate",
                              "prior sonogram non-diagnostic", "prior ultrasound equivocal"],
    "prior_us_negative": ["prior ultrasound negative", "prior ultrasound unremarkable",
                          "prior ultrasound normal"],
    "ossification_question": ["myositis ossificans", "heterotopic ossification",
                              "ossification vs calcification"],
}
TERM_CASES = [(concept, term) for concept, terms in TERM_EXAMPLES.items() for term in terms]


@pytest.mark.parametrize(("concept", "term"), TERM_CASES, ids=[f"{c}:{t}" for c, t in TERM_CASES])
def test_every_example_term_is_read_as_its_concept(concept, term):
    text = f"{term[0].upper()}{term[1:]}."
    findings = read_report(text)
    assert findings.status_of(concept) == "present"
    assert_spans_index(text, findings)


FORMS = [
    ("No {}.", "absent"),
    ("Denies {}.", "absent"),
    ("Possible {}.", "possible"),
    ("R/o {}.", "possible"),
    ("History of {}.", "historical"),
    ("Family history of {}.", "other_person"),
    ("Return if {}.", "hypothetical"),
]
FORM_CASES = [(concept, terms[0], form, expected)
              for concept, terms in TERM_EXAMPLES.items() if not concept.startswith("prior_us")
              for form, expected in FORMS]


@pytest.mark.parametrize(("concept", "term", "form", "expected"), FORM_CASES,
                         ids=[f"{c}:{f.format(t)}" for c, t, f, _ in FORM_CASES])
def test_every_concept_in_every_form(concept, term, form, expected):
    text = form.format(term)
    findings = read_report(text)
    assert findings.status_of(concept) == expected
    assert_spans_index(text, findings)


# --- the worked examples of management.md, as a radiologist reads them --------------------

WORKED = [
    ("Left calf pain. No swelling.", {"pain": "present", "swelling": "absent"}),
    ("Palpable mass.", {"soft_tissue_mass": "present"}),
    ("Ultrasound last week was inconclusive.", {"prior_us_inconclusive": "present"}),
    ("US indeterminate. ? myositis ossificans",
     {"prior_us_inconclusive": "present", "ossification_question": "possible"}),
    ("R/o DVT. New shortness of breath.", {"dvt_suspected": "possible", "dyspnea": "present"}),
    ("Type 2 diabetic, claudication.", {"diabetes": "present", "vascular_disease": "present"}),
    ("Crush injury with fasciotomy 25 years ago, slowly growing painless lump.",
     {"trauma_history": "historical", "compartment_syndrome_history": "historical",
      "soft_tissue_mass": "present", "pain": "absent"}),
    ("No history of DVT. Denies chest pain.", {"dvt_suspected": "absent", "chest_pain": "absent"}),
    ("Hx: 61M, L calf swelling x3d, r/o DVT", {"swelling": "present", "dvt_suspected": "possible"}),
    ("", {}),
]


@pytest.mark.parametrize(("text", "expected"), WORKED, ids=[w[0][:40] or "empty" for w in WORKED])
def test_worked_examples_read_exactly(text, expected):
    findings = read_report(text)
    assert {f.concept: f.status for f in findings.concepts} == expected
    assert_spans_index(text, findings)


def test_slowly_growing_is_not_malignancy_but_rapidly_growing_is():
    assert status("Crush injury with fasciotomy 25 years ago, slowly growing painless lump.",
                  "malignancy_concern") is None
    assert status("Rapidly growing painless lump.", "malignancy_concern") == "present"


def test_suspicion_wins_over_a_later_negative():
    text = "INDICATION: Swelling and rule out DVT.\nIMPRESSION: No evidence of DVT."
    findings = read_report(text)
    assert findings.status_of("dvt_suspected") == "possible"
    statuses = [e.status for f in findings.concepts if f.concept == "dvt_suspected" for e in f.evidence]
    assert statuses == ["possible", "absent"]


@pytest.mark.parametrize(("text", "expected"), [
    ("No DVT. Calf DVT suspected.", "possible"),
    ("History of DVT. No DVT now.", "historical"),
    ("No DVT. Family history of DVT.", "absent"),
    ("Family history of DVT. DVT prophylaxis.", "other_person"),
    ("DVT prophylaxis. DVT in the left calf.", "present"),
])
def test_precedence_over_several_mentions(text, expected):
    findings = read_report(text)
    assert findings.status_of("dvt_suspected") == expected
    (finding,) = [f for f in findings.concepts if f.concept == "dvt_suspected"]
    assert len(finding.evidence) == 2


def test_evidence_records_cue_and_section():
    text = "CLINICAL HISTORY: Calf pain.\nFAMILY HISTORY: Mother had DVT.\nIMPRESSION: No swelling."
    findings = read_report(text)
    assert findings.sections == ["CLINICAL HISTORY", "FAMILY HISTORY", "IMPRESSION"]
    by_concept = {f.concept: f.evidence[0] for f in findings.concepts}
    assert (by_concept["pain"].section, by_concept["pain"].cue) == ("CLINICAL HISTORY", None)
    assert by_concept["dvt_suspected"].section == "FAMILY HISTORY"
    assert by_concept["dvt_suspected"].status == "other_person"
    assert (by_concept["swelling"].cue, by_concept["swelling"].section) == ("No", "IMPRESSION")
    assert_spans_index(text, findings)


REALISTIC = """\
EXAM: XR TIBIA/FIBULA LEFT 2 VIEWS

CLINICAL HISTORY: 61M, L calf swelling x3d, r/o DVT. Hx of fall 2 weeks ago.
PMH: Type 2 DM, PVD. Remote tibial fracture (1998).
FAMILY HISTORY: Mother with sarcoma.

COMPARISON: Ultrasound 01/03 was inconclusive.

FINDINGS:
- No acute fracture or dislocation.
- Soft-tissue swelling of the posterior calf.
- Scattered vascular calcification. No phleboliths.
- Ill-defined mass with stippled calcification in the medial gastrocnemius? myositis ossificans vs other.

IMPRESSION:
1. Calf soft tissue mass with stippled calcification; cannot exclude sarcoma. MRI recommended.
2. Risks of biopsy include bleeding and infection.
"""


def test_realistic_multi_section_report():
    findings = read_report(REALISTIC)
    got = {f.concept: f.status for f in findings.concepts}
    assert got == {
        "trauma_history": "historical",  # "Hx of fall", "Remote tibial fracture (1998)"
        "dvt_suspected": "possible",
        "soft_tissue_mass": "present",
        "malignancy_concern": "possible",
        "swelling": "present",
        "vascular_disease": "historical",
        "diabetes": "historical",
        "prior_us_inconclusive": "present",
        "ossification_question": "possible",
    }
    assert findings.sections[:5] == ["EXAM", "CLINICAL HISTORY", "PAST MEDICAL HISTORY",
                                     "FAMILY HISTORY", "COMPARISON"]
    assert findings.reported_patterns == ["stippled", "arterial"]
    negated = [m for m in findings.pattern_mentions if m.status == "absent"]
    assert [m.pattern for m in negated] == ["phlebolith"]
    (mass,) = [f for f in findings.concepts if f.concept == "malignancy_concern"]
    assert {e.status for e in mass.evidence} == {"other_person", "possible"}
    assert_spans_index(REALISTIC, findings)


# --- reported calcification patterns ---------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Phleboliths in the calf.", ["phlebolith"]),
    ("Vascular calcification.", ["arterial"]),
    ("Tram-track calcification along the posterior tibial artery.", ["arterial"]),
    ("Popcorn calcification.", ["popcorn"]),
    ("Rings and arcs.", ["popcorn"]),
    ("Chondroid matrix.", ["popcorn"]),
    ("Laminated calcification.", ["laminated"]),
    ("Lamellated calcified focus.", ["laminated"]),
    ("Concentric calcification.", ["laminated"]),
    ("Stippled calcification.", ["stippled"]),
    ("Punctate calcifications.", ["stippled"]),
    ("Eccentric calcification within the mass.", ["eccentric"]),
    ("Peripheral calcification.", ["peripheral_plaque"]),
    ("Rim calcification.", ["peripheral_plaque"]),
    ("Plaque-like calcification.", ["peripheral_plaque"]),
    ("Calcific myonecrosis.", ["peripheral_plaque"]),
    ("Diffusely calcified mass.", ["diffuse"]),
    ("Central calcification.", ["central"]),
    ("Non-specific calcification.", ["nonspecific"]),
    ("Indeterminate soft tissue calcification.", ["nonspecific"]),
    ("No vascular calcification.", []),
    ("Possible phlebolith.", ["phlebolith"]),
    ("No vascular calcification. Possible phlebolith.", ["phlebolith"]),
    ("Phleboliths and stippled calcification; phleboliths again.", ["stippled", "phlebolith"]),
    ("Peripheral vascular calcification.", ["arterial"]),
    ("Lamellated periosteal reaction.", []),
])
def test_reported_patterns(text, expected):
    findings = read_report(text)
    assert findings.reported_patterns == expected
    assert findings.reported_patterns == [p for p in PATTERN_SIGNIFICANCE if p in expected]
    assert_spans_index(text, findings)


def test_pattern_mentions_keep_each_mention_with_its_status():
    findings = read_report("No vascular calcification. Possible phlebolith.")
    assert [(m.pattern, m.status, m.evidence.text) for m in findings.pattern_mentions] == [
        ("arterial", "absent", "vascular calcification"),
        ("phlebolith", "possible", "phlebolith"),
    ]


# --- robustness -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [None, "", "   ", "\n\n\t"])
def test_empty_text_gives_no_findings(text):
    assert read_report(text) == TextFindings()


@pytest.mark.parametrize("text", [
    "Xyzzy frobnicated the quux.",
    "?", "??", "...", ":", "- - -", "1.", "(", ")", "[inaudible] calf [inaudible]",
    "Pt. c/o calf pain x3d... ? DVT?? pls eval!!",
    "ñ€😀 calf pain İİİ swelling",
    "FINDINGS:\n\n\nIMPRESSION:",
])
def test_unusual_text_does_not_break_the_reader(text):
    findings = read_report(text)
    assert_spans_index(text, findings)


def test_dictation_artefacts_and_abbreviations():
    text = "pt is a 61 y.o. male w/ L calf swelling x3d, c/o pain. Tylenol No. 3 p.r.n. Denies SOB."
    findings = read_report(text)
    got = {f.concept: f.status for f in findings.concepts}
    assert got == {"swelling": "present", "pain": "present", "dyspnea": "absent"}


def test_hard_wrapped_lines_are_one_sentence():
    text = "There is no\nevidence of DVT in the\nleft leg."
    assert status(text, "dvt_suspected") == "absent"


def test_bullets_are_separate_sentences():
    text = "Findings:\n- no fracture\n- calf swelling\n* erythema"
    findings = read_report(text)
    assert findings.status_of("swelling") == "present"
    assert findings.status_of("warmth_redness") == "present"
    assert findings.status_of("trauma_history") == "absent"


_PIECES = (list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,;:?!-/()\n'\"0123456789")
           + ["no ", "DVT", "calf ", "pain", "swelling", "r/o ", "? ", "history of ", "mother had ",
              "FINDINGS:", "\nIMPRESSION:", "if ", "prophylaxis", "painless", "US indeterminate",
              "vascular calcification", "chest pain", "İ", "ﬁ", "😀"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200),
                 st.lists(st.sampled_from(_PIECES), max_size=80).map("".join)))
def test_arbitrary_text_never_raises_and_spans_index_the_input(text):
    findings = read_report(text)
    assert_spans_index(text, findings)
    for finding in findings.concepts:
        assert finding.status == min((e.status for e in finding.evidence),
                                     key=STATUS_PRECEDENCE.index)


# --- the lexicon ----------------------------------------------------------------------------

def test_leading_alternatives_keep_the_language():
    assert leading_alternatives(r"(?:most\s+|more\s+)?likely") == [
        r"most\s+likely", r"more\s+likely", "likely"]
    assert leading_alternatives(r"(?:a|b)+c") == [r"(?:a|b)+c"]
    assert leading_alternatives(r"(?:[(|]x|y)z") == ["[(|]xz", "yz"]
    assert leading_alternatives(r"(?:ab|cd(?:e|f))") == ["ab", "cd(?:e|f)"]


def test_scanner_finds_each_alternative_of_a_term():
    from radassist.text.lexicon import Scanner, TermInfo

    scanner = Scanner([("ab|cd", "lower", TermInfo("concept", "pain")),
                       ("(?:x|y)z", "lower", TermInfo("concept", "swelling")),
                       ("DM", "cased", TermInfo("concept", "diabetes"))])
    text = "ab cd ad xz yz DM dm"
    hits = [(text[h.start:h.end], h.info.name) for h in scanner.scan(text, text.lower())]
    assert sorted(hits) == [("DM", "diabetes"), ("ab", "pain"), ("cd", "pain"),
                            ("xz", "swelling"), ("yz", "swelling")]


def test_lexicon_rejects_unknown_concepts(tmp_path):
    import yaml

    from radassist.text.lexicon import DEFAULT_LEXICON

    raw = yaml.safe_load(DEFAULT_LEXICON.read_text())
    raw["concepts"]["gout"] = {"terms": ["gout"]}
    path = tmp_path / "lexicon.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="unknown concept 'gout'"):
        load_lexicon(path)


def test_lexicon_rejects_upper_case_in_lower_case_terms(tmp_path):
    import yaml

    from radassist.text.lexicon import DEFAULT_LEXICON

    raw = yaml.safe_load(DEFAULT_LEXICON.read_text())
    raw["concepts"]["dyspnea"]["terms"].append("SOB")
    path = tmp_path / "lexicon.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="upper-case"):
        load_lexicon(path)
