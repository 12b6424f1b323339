"""The vocabularies tracework's Croissant files speak: Croissant 1.1, its Responsible-AI terms,
PROV-O and FOAF for per-annotation provenance, and tracework's own extension.

RAI properties are spelled as the RAI vocabulary (``croissant_rai.ttl``) spells them, which
differs in two places from what mlcroissant reads and writes (``dataCollectionTimeframe``, not
``…TimeFrame``; ``dataManipulationProtocol``, not ``dataDataManipulationProtocol``). Those two
are written under both spellings, with the same value (:data:`MLCROISSANT_SPELLINGS`), so
that readers of the vocabulary and mlcroissant's ``Metadata`` both find them; a test checks
every other ``rai:`` key written against :data:`RAI_PROPERTIES`.

The ``tracework:`` extension
----------------------------

Namespace IRI :data:`TRACEWORK_NS` (prefix ``tracework``). The RAI vocabulary has no property
for the conditions people worked under, so tracework states them here, computed from the
records. Two nodes hang off the dataset:

``tracework:labour`` (``@type tracework:LabourConditions``), from the labour audit:

- ``tracework:currency``: ISO 4217 code of every amount below.
- ``tracework:timeKind``: what the time figures measure (e.g. ``accept_to_submit``: wall
  clock from accepting to submitting a task; ``active``: time the tool saw activity).
- ``tracework:wageFloorPerHour``: the floor effective hourly pay is measured against, in
  currency units per hour (0 when none is set); ``tracework:wageFloorSource``: where it
  comes from.
- ``tracework:submissions``, ``tracework:approved``, ``tracework:rejected``,
  ``tracework:pending``: counts of submissions by review status.
- ``tracework:rejectionRate``: rejected / decided submissions (0–1).
- ``tracework:rejectionReasons``: list of ``{"tracework:reason", "tracework:count"}``.
- ``tracework:totalPaid``, ``tracework:totalBonus``: rewards and bonuses paid, in currency
  units.
- ``tracework:paidHours``, ``tracework:unpaidHours``: hours of work that were paid, and
  hours spent on work that was not (rejected without pay), in the time kind above.
- ``tracework:medianHourlyPaid``: median effective hourly pay over paid work;
  ``tracework:medianHourlyAll``: the same counting unpaid time; currency units per hour.
- ``tracework:shareBelowFloor``: share of workers (0–1) whose effective hourly pay is below
  the floor.
- ``tracework:workers``: number of people whose work the figures cover.

``tracework:valueChain`` (``@type tracework:ValueChain``), from ``[value_chain]`` of
``tracework.toml``: ``tracework:requester``, ``tracework:affiliation``,
``tracework:endClient``, ``tracework:intermediaries`` (list), ``tracework:purpose``,
``tracework:guidelineVersion``.

``tracework:batchValueChains``: one ``tracework:BatchValueChain`` per batch of the selection,
the conditions its labels were made under (``tracework batch value-chain``):
``tracework:batch`` (its key), ``tracework:requester``, ``tracework:intermediaries`` (list, in
order), ``tracework:client``, ``tracework:payPerTask`` (cents, or null), ``tracework:currency``,
``tracework:timeBudgetPerTask`` (seconds, or null), ``tracework:note`` and
``tracework:statedIn`` (``batch``: set for the batch; ``file``: in tracework.toml;
``project``: the project's ``[value_chain]`` and the batch's posted reward and time).

At dataset level also: ``tracework:ledgerHead`` and ``tracework:ledgerEntries`` (the change
log's head hash and length when the file was made: a checkpoint for ``tracework verify
--expect-head``), ``tracework:creditedWorkers`` (people credited by a name they chose) and
``tracework:contributors`` (people whose work is in the dataset).

Per annotation, in the annotations record set: ``tracework:reviewStatus``,
``tracework:timeOnTask`` (seconds, of ``tracework:timeKind``), ``tracework:reward`` (cents),
``tracework:taxonomyVersion``, ``tracework:submission`` and ``tracework:batch`` are the
``equivalentProperty`` of the fields of those names.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CONFORMS_TO",
    "CROISSANT_CONTEXT",
    "MLCROISSANT_SPELLINGS",
    "RAI_NS",
    "RAI_PROPERTIES",
    "RAI_MANY",
    "TRACEWORK_NS",
    "TRACEWORK_PROPERTIES",
]

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
RAI_NS = "http://mlcommons.org/croissant/RAI/"
# A persistent identifier for tracework's terms; the module docstring documents each one.
TRACEWORK_NS = "https://w3id.org/tracework/ns#"

#: The 20 properties of the RAI vocabulary, spelled as in its Turtle file.
RAI_PROPERTIES: tuple[str, ...] = (
    "dataCollection",
    "dataCollectionType",
    "dataCollectionMissingData",
    "dataCollectionRawData",
    "dataCollectionTimeframe",
    "dataImputationProtocol",
    "dataManipulationProtocol",
    "dataPreprocessingProtocol",
    "dataAnnotationProtocol",
    "dataAnnotationPlatform",
    "dataAnnotationAnalysis",
    "annotationsPerItem",
    "annotatorDemographics",
    "machineAnnotationTools",
    "dataReleaseMaintenancePlan",
    "personalSensitiveInformation",
    "dataSocialImpact",
    "dataBiases",
    "dataLimitations",
    "dataUseCases",
)

#: Vocabulary spelling -> mlcroissant's spelling, where they differ (mlcroissant 1.1).
MLCROISSANT_SPELLINGS: dict[str, str] = {
    "dataCollectionTimeframe": "dataCollectionTimeFrame",
    "dataManipulationProtocol": "dataDataManipulationProtocol",
}

#: RAI properties whose cardinality is MANY (the others take one text).
RAI_MANY: frozenset[str] = frozenset({
    "dataCollectionType", "dataCollectionTimeframe", "dataPreprocessingProtocol",
    "dataAnnotationPlatform", "dataAnnotationAnalysis", "annotatorDemographics",
    "machineAnnotationTools", "dataReleaseMaintenancePlan", "personalSensitiveInformation",
    "dataBiases", "dataLimitations", "dataUseCases",
})

#: Every tracework: term written, documented in this module's docstring.
TRACEWORK_PROPERTIES: frozenset[str] = frozenset({
    "labour", "LabourConditions", "currency", "timeKind", "wageFloorPerHour",
    "wageFloorSource", "submissions", "approved", "rejected", "pending", "rejectionRate",
    "rejectionReasons", "reason", "count", "totalPaid", "totalBonus", "paidHours",
    "unpaidHours", "medianHourlyPaid", "medianHourlyAll", "shareBelowFloor", "workers",
    "valueChain", "ValueChain", "requester", "affiliation", "endClient", "intermediaries",
    "purpose", "guidelineVersion", "ledgerHead", "ledgerEntries", "creditedWorkers",
    "contributors", "reviewStatus", "timeOnTask", "reward", "taxonomyVersion", "submission",
    "batch", "batchValueChains", "BatchValueChain", "client", "payPerTask",
    "timeBudgetPerTask", "note", "statedIn",
})

_CR_ALIASES = (
    "annotation", "arrayShape", "citeAs", "column", "containedIn", "equivalentProperty",
    "excludes", "extract", "field", "fileProperty", "fileObject", "fileSet", "format",
    "includes", "isArray", "isLiveDataset", "jsonPath", "key", "md5", "parentField",
    "recordSet", "references", "regex", "readLines", "sdVersion", "separator", "source",
    "subField", "transform", "unArchive", "value",
    # Aliases the reference Croissant library adds for 1.1; declaring them keeps its
    # validator from warning that the context is not standard.
    "path", "repeated", "replace", "samplingRate",
)


def _context() -> dict[str, Any]:
    # schema.org with https: the reference validator does not recognise the dataset type
    # under the http form the specification prints.
    ctx: dict[str, Any] = {
        "@language": "en",
        "@vocab": "https://schema.org/",
        "sc": "https://schema.org/",
        "cr": "http://mlcommons.org/croissant/",
        "rai": RAI_NS,
        "dct": "http://purl.org/dc/terms/",
        "prov": "http://www.w3.org/ns/prov#",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "tracework": TRACEWORK_NS,
    }
    for name in _CR_ALIASES:
        ctx[name] = f"cr:{name}"
    ctx["conformsTo"] = "dct:conformsTo"
    ctx["data"] = {"@id": "cr:data", "@type": "@json"}
    ctx["examples"] = {"@id": "cr:examples", "@type": "@json"}
    ctx["dataType"] = {"@id": "cr:dataType", "@type": "@vocab"}
    return ctx


#: The JSON-LD context of every Croissant file tracework writes.
CROISSANT_CONTEXT: dict[str, Any] = _context()
