"""Faker's names and lorem text, drawn exactly as Faker draws them, without Faker's per-call overhead.

- Names: Faker picks a name from a table of thousands with weights, and every call copies the weights and sums
  them again (random.choices without cum_weights), the generator's largest single cost. The sums never change,
  so they are made once here; random.choices with those cum_weights draws the same number from the same stream
  and picks the same name. Names drawn inside other Faker methods (the last names in `company()`) go through
  the generator's formatter, so they are sped up too.
- sentence() and paragraph() copy the locale's word list twice per sentence before drawing from it; here the
  same draws (randomize_nb_elements' randint, then random.choice for one word or random.choices for more, as
  faker.utils.distribution.choices_distribution does) pick from one tuple made once.

- company(), company_suffix(), bs() and country_code() are one random.choice per element (random_element on a
  sequence is random.choice of it as a tuple); company() also parses its format's {{tokens}} with a regular
  expression and looks each formatter up by name, and country_code() copies a list of 249 codes into a tuple,
  per call. Here each format is split once and each list made a tuple once; the draws are the same choices,
  and the tokens are filled in order through the generator's formatters, as parse() fills them.

- `seeded` hands out the Faker's one Generator rather than the Faker proxy: every attribute read on the proxy
  goes through its __getattribute__ and __getattr__ (4% of the support renderer's time, 10,000 x 24 months)
  before reaching that same Generator, whose methods draw the same values.

Every byte written stays as Faker would write it: tests/unit/test_generator.py compares the two on many draws.
"""

from __future__ import annotations

import re
from bisect import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from math import floor, trunc
from random import Random
from typing import TypeVar

from faker import Faker
from faker.generator import Generator

WEIGHTED_NAMES = ("first_name", "last_name")
T = TypeVar("T")


class Stream(Random):
    """random.Random with randint() and choice() in one Python call each instead of three and two: the same
    draws, randrange's and _randbelow's steps written out (Python 3.11's random.py; the test of the generator
    holds the two to the same values). The generator asks for them some 1.5 million times at 10,000 customers.
    Seeded as Random is, so a seed gives the same stream."""

    def randint(self, a: int, b: int) -> int:
        n = b - a + 1
        if type(n) is not int or n <= 0:  # not two ints in order: Random's own checks, warnings and errors
            return super().randint(a, b)
        getrandbits, k = self.getrandbits, n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return a + r

    def choice(self, seq: Sequence[T]) -> T:
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        getrandbits, k = self.getrandbits, n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]


def seeded(seed: int | str, locale: str = "en_US") -> Generator:
    """A faster Faker of one locale, seeded: its Generator, which has every provider's methods, drawing from a
    Stream (seed_instance seeds the Random it is given)."""
    fake = faster(Faker(locale))
    fake.random = Stream()
    fake.seed_instance(seed)
    (generator,) = fake.factories
    return generator


def faster(fake: Faker) -> Faker:
    """Replace `fake`'s weighted names, sentence() and paragraph() with the same draws, made cheaper."""
    for name in WEIGHTED_NAMES:
        provider = getattr(fake, name).__self__
        table = getattr(provider, f"{name}s", None)
        if isinstance(table, OrderedDict) and provider.__use_weighting__:
            provider.generator.set_formatter(name, _weighted_draw(provider.generator, tuple(table), table.values()))
    lorem = fake.sentence.__self__
    sentence = _sentence(lorem)
    lorem.generator.set_formatter("sentence", sentence)
    lorem.generator.set_formatter("paragraph", _paragraph(lorem, sentence))
    company = fake.company.__self__
    company.generator.set_formatter("company_suffix", _element(company.generator, company.company_suffixes))
    company.generator.set_formatter("bs", _words(company.generator, company.bsWords))
    parts = [_TOKEN.split(pattern) for pattern in company.formats]
    if all(part is None for pieces in parts for part in pieces[2::3]):  # no {{token:argument_group}}
        company.generator.set_formatter("company", _company(company.generator, company.formats, parts))
    address = fake.country_code.__self__
    address.generator.set_formatter("country_code", _country_code(address))
    return fake


_TOKEN = re.compile(r"\{\{\s*(\w+)(:\s*\w+?)?\s*\}\}")  # faker.generator's own token


def _element(generator, elements: Sequence[str]) -> Callable[[], str]:
    """BaseProvider.random_element(elements) for a sequence: random.choice of it as a tuple."""
    population = tuple(elements)

    def element() -> str:
        return generator.random.choice(population)

    return element


def _words(generator, word_lists: Sequence[Sequence[str]]) -> Callable[[], str]:
    """company's bs(): one random_element per word list, joined by spaces."""
    populations = tuple(tuple(words) for words in word_lists)

    def words() -> str:
        choice = generator.random.choice
        return " ".join([choice(population) for population in populations])

    return words


def _company(generator, formats: Sequence[str], parts: list[list[str | None]]) -> Callable[[], str]:
    """company(): random_element(formats), then its tokens filled left to right by the formatters they name."""
    patterns = tuple(formats)
    # pattern -> (its literal texts, the formatter names between them)
    split = {pattern: (pieces[0::3], pieces[1::3]) for pattern, pieces in zip(patterns, parts, strict=True)}

    def company() -> str:
        literals, names = split[generator.random.choice(patterns)]
        text = [literals[0]]
        for name, literal in zip(names, literals[1:], strict=True):
            text.append(str(getattr(generator, name)()))
            text.append(literal)
        return "".join(text)

    return company


def _country_code(address) -> Callable[..., str]:
    alpha_2, original = tuple(address.alpha_2_country_codes), type(address).country_code
    generator = address.generator

    def country_code(representation: str = address.ALPHA_2) -> str:
        if representation == address.ALPHA_2:
            return generator.random.choice(alpha_2)
        return original(address, representation)

    return country_code


def _weighted_draw(generator, population: tuple[str, ...], weights) -> Callable[[], str]:
    cum_weights = list(accumulate(weights))
    total, last = cum_weights[-1] + 0.0, len(population) - 1

    def draw() -> str:
        # random.choices(population, cum_weights=cum_weights)[0], inlined: the same one draw and bisect.
        # generator.random at each call: seed_instance() gives the generator a new Random.
        return population[bisect(cum_weights, generator.random.random() * total, 0, last)]

    return draw


def weighted_picker(rng: Random, population: Sequence[T], weights: Iterable[float]) -> Callable[[], T]:
    """rng.choices(population, weights)[0] as a function of no arguments: the cumulative weights summed once (choices
    sums them on every call), then the same one draw and bisect random.choices makes."""
    cum_weights = list(accumulate(weights))
    total, last, random = cum_weights[-1] + 0.0, len(population) - 1, rng.random

    def pick() -> T:
        return population[bisect(cum_weights, random() * total, 0, last)]

    return pick


def _nb_near(generator, number: int) -> int:
    """BaseProvider.randomize_nb_elements(number, min=1): 60-140% of `number`, at least 1."""
    return max(1, trunc(number * generator.random.randint(60, 140) / 100))


def _sentence(lorem) -> Callable[..., str]:
    generator, words = lorem.generator, tuple(lorem.word_list)
    connector, punctuation = lorem.word_connector, lorem.sentence_punctuation
    count = float(len(words))  # random.choices' n

    def sentence(nb_words: int = 6, variable_nb_words: bool = True, ext_word_list=None) -> str:
        if ext_word_list is not None:
            return type(lorem).sentence(lorem, nb_words, variable_nb_words, ext_word_list)
        if nb_words <= 0:
            return ""
        random = generator.random
        if variable_nb_words:
            # _nb_near(generator, nb_words) without its two Python calls (a sentence is drawn some 30 times a
            # customer): randint(60, 140)'s draws, as Random and Stream make them (7 bits until one is below 81)
            percent = random.getrandbits(7)
            while percent >= 81:
                percent = random.getrandbits(7)
            nb_words = max(1, trunc(nb_words * (60 + percent) / 100))
        if nb_words == 1:
            drawn = [random.choice(words)]
        else:  # random.choices(words, k=nb_words): its draws, without its arguments' handling
            draw = random.random
            drawn = [words[floor(draw() * count)] for _ in range(nb_words)]
        drawn[0] = drawn[0].title()
        return connector.join(drawn) + punctuation

    return sentence


def _paragraph(lorem, sentence: Callable[..., str]) -> Callable[..., str]:
    generator, connector = lorem.generator, lorem.word_connector

    def paragraph(nb_sentences: int = 3, variable_nb_sentences: bool = True, ext_word_list=None) -> str:
        if ext_word_list is not None:
            return type(lorem).paragraph(lorem, nb_sentences, variable_nb_sentences, ext_word_list)
        if nb_sentences <= 0:
            return ""
        if variable_nb_sentences:
            nb_sentences = _nb_near(generator, nb_sentences)
        return connector.join([sentence() for _ in range(nb_sentences)])

    return paragraph
