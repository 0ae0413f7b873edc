"""SQLAlchemy tables of the knowledge base.

Table names carry a `kb_` prefix so the knowledge base can share a PostgreSQL
database with other stores (e.g. Rasa's tracker store) without name clashes.
Only knowledge/build.py writes these tables; knowledge/store.py reads them.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import declarative_base

# Part of the content hash: changing the tables forces a rebuild.
SCHEMA_VERSION = 3

Base = declarative_base()


class Source(Base):
    __tablename__ = "kb_sources"

    key = Column(String(32), primary_key=True)  # e.g. TAB, OZO (knowledge/sources.yml)
    title = Column(Text, nullable=False)
    url = Column(Text, nullable=True)  # the document itself, when sources.yml gives it
    region = Column(String(8), nullable=False, default="US")  # whose label: US unless sources.yml says


class Entry(Base):
    __tablename__ = "kb_entries"

    id = Column(String(120), primary_key=True)
    position = Column(Integer, nullable=False)  # authoring order, for stable answers
    topic = Column(String(40), nullable=False)
    subtopic = Column(String(60), nullable=False)
    title = Column(Text, nullable=False)  # names the answer on a "did you mean" button
    text = Column(Text, nullable=False)
    source_doc = Column(String(32), ForeignKey("kb_sources.key"), nullable=False)
    source_section = Column(Text, nullable=False)
    reviewed = Column(Date, nullable=False)

    __table_args__ = (Index("ix_kb_entries_topic_subtopic", "topic", "subtopic"),)


class DrugClass(Base):
    __tablename__ = "kb_classes"

    id = Column(String(60), primary_key=True)  # == an interactions subtopic
    name = Column(Text, nullable=False)


class Drug(Base):
    __tablename__ = "kb_drugs"

    id = Column(String(60), primary_key=True)
    name = Column(Text, nullable=False)
    class_id = Column(String(60), ForeignKey("kb_classes.id"), nullable=True)  # None: no information


class Term(Base):
    """One lexicon phrase (normalised) and what it names."""

    __tablename__ = "kb_terms"

    term = Column(String(200), primary_key=True)
    kind = Column(String(16), nullable=False)  # drug, class, baclofen, form, population, aspect
    target_id = Column(String(60), nullable=False)


class Meta(Base):
    """A single row describing the loaded build."""

    __tablename__ = "kb_meta"

    id = Column(Integer, primary_key=True)
    version = Column(String(64), nullable=False)  # sha256 of the canonical content
    built_at = Column(DateTime(timezone=True), nullable=False)
    entry_count = Column(Integer, nullable=False)
    term_count = Column(Integer, nullable=False)
