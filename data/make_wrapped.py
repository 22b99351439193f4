# ruff: noqa: E501
"""Build ``localforge-wrapped.jsonl``: requests of every label inside answer-format wrappers.

People wrap any request, whatever its task, in instructions about the answer ("Only the year.",
"Answer with a JSON list.", "Keep it under 50 words.") or in a chat template ("You are a helpful
assistant. ...", "### Instruction: ... ### Response:"). A classifier that has only seen such
wrappers on writing requests reads every wrapped query as ``instruction``. This script puts the
same wrappers on hand-written requests of all six labels, so the wrappers carry no label.

Everything here was written by the LocalForge developers (Apache-2.0). The base requests are
not in any other data file. Deterministic: the wrapper of each row is drawn from a generator
seeded with the row's text. Run from the repository root::

    python data/make_wrapped.py
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "localforge-wrapped.jsonl"
SOURCE = "localforge-wrapped"
VARIANTS = 2  # wrapped versions of each base request
LABELS = ("coding", "math", "reasoning", "instruction", "hard_reasoning", "general")

BASE_CODING = """
Write a function that counts how many times each character appears in a string.
Write a function that takes a list of tuples and sorts it by the second element.
Write a function to compute the greatest common divisor of two integers.
Write a function to rotate a list to the right by k positions.
Write a function that finds all prime numbers up to n with the sieve of Eratosthenes.
Write a function that returns the indices of all occurrences of a value in a list.
Write a function that converts a temperature from Celsius to Fahrenheit.
Write a function that capitalises the first letter of every word in a string.
Write a function that checks whether the parentheses in a string are balanced.
Write a function that returns all permutations of a string.
Write a function that multiplies two matrices given as lists of lists.
Write a function that checks whether a number is an Armstrong number.
Write a function that splits a list into chunks of size n.
Write a function that computes the Levenshtein distance between two strings.
Write a function to compute the least common multiple of a list of integers.
Write a function that reverses the words in a sentence.
Write a function that generates Pascal's triangle up to n rows.
Write a function that returns the depth of a binary tree.
Write a function that parses a query string into a dictionary.
Write a function that calculates the number of days between two dates.
Write a program that asks the user for a number and prints whether it is odd or even.
Write a program that prints the FizzBuzz sequence up to 100.
Write a C++ program that reads numbers until EOF and prints their average.
Write a Go program that serves "hello" on port 8080.
Write a Ruby method that counts the words in a string.
Write a Haskell function that computes the sum of squares of a list.
Write a shell one-liner to count lines in all .py files.
Write a SQL query to compute monthly revenue from an orders table.
Write a GitHub Actions workflow that runs pytest on every push.
Write a class that implements a queue using two stacks.
Write a decorator that times how long a function takes.
Write an LRU cache class with get and put in O(1).
Write code that sends an HTTP GET request and prints the status code.
Write code to train a linear regression model with scikit-learn.
Create a function that checks whether a word is a pangram.
Create a REST endpoint in Express that returns a list of users.
Implement merge sort and explain its complexity.
Implement a trie that supports insert and prefix search.
Implement a function that evaluates a postfix expression.
Given a list of integers, return a new list with each element squared.
Given a sorted array, remove the duplicates in place and return the new length.
Given a list of meeting intervals, merge the overlapping ones.
Given a list of stock prices, find the best day to buy and sell for maximum profit.
Could you write me a Python script that renames files by their creation date?
I need a script that pings a list of hosts and reports which are down.
Write a function that computes the sum of the first n natural numbers.
Write a function that checks whether three side lengths can form a triangle.
Write a function that returns the cube of every odd number in a list.
Write a function to find the sum of the series 1 + 1/2 + 1/3 + ... + 1/n.
Write a function that rounds a number to the nearest multiple of 5.
Write a function that returns the largest prime factor of a number.
Write a function that counts the number of ways to climb n stairs taking 1 or 2 steps.
Write a function that returns the nth row of a multiplication table as a list.
Complete this function so that it returns the sum of the squares: def sum_squares(xs):
This function should return the average but it returns 0. Why? def avg(xs): return sum(xs) // len(xs) * 0
Write a Python function `clamp(x, low, high)` that limits x to the range [low, high].
Write a function named `word_freq` that returns a Counter of the words in a text, ignoring case.
Write the code for a to-do list app in vanilla JavaScript.
Write a function that hashes a password with bcrypt and verifies it.
Write a function that computes the SHA-256 of a file in chunks.
"""
BASE_MATH = """
What is 15% of 240?
How many minutes are there in a week?
If a shirt costs $40 and is 25% off, what is the sale price?
What is the square root of 1,764?
Solve 5x + 12 = 47.
What is 3/8 as a decimal?
A car travels 150 km in 2 hours. What is its average speed?
What is the area of a rectangle that is 7.5 m by 4 m?
Convert 5 kilometres to miles.
What is 2 to the power of 12?
What is the next number in the sequence 2, 6, 18, 54?
Find the mean of 3, 7, 8, 12 and 20.
What is 1,000 divided by 8?
How many seconds are in a day?
If 4 pens cost $6, how much do 10 pens cost?
What is the perimeter of a square with side 9 cm?
What is 0.6 times 0.45?
What is the least common multiple of 12 and 18?
Find the value of 7! / 5!.
What is 45 degrees in radians?
Solve the system x + y = 10, x - y = 4.
What is the volume of a cube with side 6 cm?
How much is a 20% tip on a $65 bill?
What is the sum of the integers from 1 to 200?
Differentiate f(x) = 3x^4 - 2x + 1.
Integrate x^2 from 0 to 3.
What is the probability of drawing an ace from a standard deck?
What is the hypotenuse of a right triangle with legs 9 and 12?
Simplify 18/24.
How many ways can 5 books be arranged on a shelf?
What is log base 2 of 256?
Convert 3.5 hours to minutes.
What is 12.5% of 880?
If the ratio of boys to girls is 3:5 and there are 40 students, how many are girls?
What is the circumference of a circle with diameter 10?
A loan of $2,000 at 5% simple interest for 3 years: how much interest?
Evaluate 3^4 - 2^5.
What is 999 times 7?
Round 3.14159 to three decimal places.
How many litres are in 3 gallons?
What is the median of 4, 1, 9, 7, 3?
Find x if 2^x = 64.
What is the slope of y = 4x - 7?
What is 7 percent of 1,250?
What is the remainder when 100 is divided by 7?
If I sleep from 11:30 pm to 7:15 am, how long did I sleep?
Factor x^2 - 9x + 20.
Compute the determinant of [[4, 3], [6, 3]].
What is the angle sum of a pentagon?
Expand (x + 3)^2.
How many edges does a cube have?
What is 8 cubed?
A recipe needs 2/3 cup of sugar per batch. How much for 4 batches?
What is 250 ml in fluid ounces?
How far do you travel in 45 minutes at 80 km/h?
What is the derivative of ln(x^2)?
What is the average speed for a 42.195 km marathon run in 3 hours 30 minutes?
If a population doubles every 5 years, how much bigger is it after 20 years?
How many diagonals does a hexagon have?
What is 60 mph in metres per second?
"""
BASE_REASONING = """
Why do we have seasons?
How does a refrigerator keep food cold?
Why did the Roman Republic become an empire?
Explain how a bill becomes a law in the United States.
What are the main differences between capitalism and socialism?
Why is biodiversity important for ecosystems?
How do vaccines train the immune system?
What causes inflation?
Why do some metals conduct electricity better than others?
How does GPS determine your location?
Explain why the Industrial Revolution began in Britain.
What are the advantages and disadvantages of globalisation?
How does the heart pump blood around the body?
Why do leaves change colour in autumn?
Explain the greenhouse effect.
Why does the Moon have phases?
How do tides work?
What were the causes of World War I?
Compare the economic policies of Keynes and Hayek.
How does compound interest make savings grow faster over time?
Why is the sky blue?
How do birds navigate during migration?
What is the difference between a virus and a bacterium?
Explain supply and demand with an example.
Why do airplanes fly?
How does a nuclear reactor produce electricity?
What are the ethical arguments for and against euthanasia?
Why did the Soviet Union collapse?
Explain how the electoral college works.
How does the placebo effect work?
Why do onions make you cry?
How does memory work in the brain?
Explain the difference between weather and climate.
What are the pros and cons of remote work?
Why is the Amazon rainforest important for the global climate?
How does natural selection lead to new species?
Why does salt melt ice on roads?
Explain how a credit score is calculated and why it matters.
If all roses are flowers and some flowers fade quickly, can we conclude that some roses fade quickly? Explain.
Anna is taller than Ben, and Ben is taller than Carl. Who is the shortest?
A is north of B, and C is east of A. In which direction is C from B?
If it rained, the ground is wet. The ground is wet. Did it necessarily rain?
Which is heavier, a kilogram of feathers or a kilogram of iron, and why do people get this wrong?
Explain the trolley problem and the main positions philosophers take on it.
Why do prices rise when a currency is devalued?
How do antibiotics kill bacteria without harming human cells?
What is the role of the Supreme Court in the US government?
Why do we dream?
Explain why correlation does not imply causation.
How did the printing press change Europe?
Why are coral reefs bleaching?
What are the main arguments for and against nuclear power?
Explain how photosynthesis and respiration are connected.
Why did the dinosaurs go extinct?
How does the stock market set the price of a share?
Which of the following is a renewable resource? A) coal B) natural gas C) wind D) oil
Which organelle is responsible for protein synthesis? (a) ribosome (b) lysosome (c) nucleus (d) vacuole
What would happen to Earth's climate if the Moon disappeared?
Explain the difference between a democracy and a republic.
Why do cats always land on their feet?
"""
BASE_INSTRUCTION = """
Write a short poem about the first snow of winter.
Write a thank-you email to a colleague who covered my shift.
Rewrite this sentence so it sounds more confident: I think maybe we could try a new approach.
Summarise this paragraph: The new park opened on Saturday with a playground, a pond and two kilometres of walking paths. Hundreds of families attended the opening, and the mayor promised more trees next spring.
Translate into French: Where is the nearest train station?
Write a product description for a waterproof hiking backpack.
Draft a polite reminder to a client about an unpaid invoice.
Write a short story about a robot who learns to paint.
Give me a catchy slogan for a recycling campaign.
Write a birthday message for my grandmother's 90th.
Write a cover letter for a junior graphic designer position.
Paraphrase: The results were not as good as we had hoped.
Write a tweet announcing our new coffee shop opening.
Write an apology message to a friend for missing their party.
Compose a limerick about a forgetful wizard.
Write a LinkedIn post celebrating five years at my company.
Rewrite this in plain English: The aforementioned party shall indemnify the other party against all losses.
Write a short speech for my sister's wedding.
Summarise the plot of Romeo and Juliet in three sentences.
Write a haiku about the ocean.
Write a review of a pizza restaurant with great crust but slow service.
Make this email sound friendlier: Send me the file now.
Translate to Spanish: I would like to book a table for two.
Write a job posting for a part-time bookkeeper.
Write a motivational message for a team before a big launch.
Create a short bedtime story about a sleepy dragon.
Write a two-sentence horror story.
Write the opening paragraph of a mystery novel set in Venice.
Correct the grammar: She don't like them apples no more.
Write an out-of-office reply for my holiday next week.
Write five title ideas for a blog post about saving money.
Write a short biography of a fictional explorer named Ida Marsh.
Turn these bullet points into a paragraph: fast delivery, friendly staff, great prices.
Write a formal complaint letter about a delayed flight.
Rewrite this paragraph for a ten-year-old reader: Photosynthesis is the process by which plants convert light energy into chemical energy.
Write a persuasive paragraph on why people should adopt pets from shelters.
Write a song chorus about summer road trips.
Write a welcome message for new members of our hiking club.
Draft an agenda for a one-hour team retrospective.
Write a toast for a retirement party.
Condense this into one sentence: We tested the app with twenty users. Most liked the design. Several found the sign-up form confusing.
Write a dialogue between a cat and a dog arguing about the sofa.
Write a sonnet about city lights.
Write a short newsletter intro for our spring sale.
Write a riddle whose answer is a shadow.
Make this sentence more concise: At this point in time, we are currently in the process of reviewing.
Write an acrostic poem for the word HOPE.
Write a message declining a job offer politely.
Translate this into German: The museum is closed on Mondays.
Write a description of a sunset in the style of a Victorian novel.
Write an elevator pitch for a dog-walking app.
Write a fable with the moral that patience pays off.
Rephrase in a more formal register: Hey guys, the meeting got moved.
Write a short poem for a Mother's Day card.
Write a one-paragraph summary of the benefits of regular exercise.
Write a script for a 30-second radio advert for a bakery.
Write a letter to my future self.
Write a short scene where two old friends meet after twenty years.
Write an inspiring quote about learning from failure.
Create a menu description for a vegan burger.
"""
BASE_HARD_REASONING = """
Suggest a synthesis of aspirin from phenol, naming the reagents for each step.
Write the balanced half-reactions for the oxidation of Fe2+ by permanganate in acidic solution and give the overall cell potential.
Rank phenol, p-nitrophenol and p-methoxyphenol by acidity and justify the order with resonance arguments.
Explain why SN2 reactions proceed with inversion of configuration, using the orbital picture of the transition state.
Derive the integrated rate law for a second-order reaction with two different reactants.
Predict the stereochemistry of the Diels-Alder adduct of cyclopentadiene and maleic anhydride.
Explain the spin selection rules for electronic transitions and why d-d transitions in octahedral complexes are weak.
Give the Woodward-Hoffmann analysis of the thermal electrocyclic ring closure of hexatriene.
Describe the mechanism of the Claisen condensation and explain why a full equivalent of base is needed.
Derive the expression for the rotational energy levels of a rigid diatomic rotor and the selection rule for its microwave spectrum.
Show that the Gibbs free energy is minimised at equilibrium for a system at constant temperature and pressure.
Derive the partition function of a quantum harmonic oscillator and its mean energy.
Show that the expectation value of momentum is zero for any real bound-state wavefunction.
Derive the transmission coefficient for a particle tunnelling through a rectangular barrier in the thick-barrier limit.
Derive Fermi's golden rule from time-dependent perturbation theory.
Derive the Joule-Thomson coefficient for a van der Waals gas.
Derive the Einstein coefficients relations between spontaneous and stimulated emission.
Derive the Larmor formula for the power radiated by an accelerated charge.
Derive the Euler-Lagrange equations from Hamilton's principle of stationary action.
Derive the relativistic Doppler shift from the Lorentz transformation.
Derive the Friedmann equation from Newtonian cosmology and explain what the curvature term means.
Derive the Hagen-Poiseuille law for laminar flow in a pipe.
Explain the quantum Hall effect and why the Hall conductance is quantised.
Derive the transfer function of an RLC low-pass filter and find its resonance frequency.
Prove that the entropy of a discrete random variable is maximised by the uniform distribution.
Prove the central limit theorem for i.i.d. variables with finite variance, using characteristic functions.
Prove that a symmetric positive definite matrix has a unique Cholesky factorisation.
Prove Lagrange's theorem for finite groups.
Prove that there is no largest prime number.
Prove that a compact subset of a metric space is closed and bounded.
Prove the mean value theorem from Rolle's theorem.
Prove that a graph is bipartite if and only if it has no odd cycle.
Prove that the language of palindromes is not regular, using the pumping lemma.
Show that the Cantor set has measure zero but is uncountable.
Explain the proof of Gödel's first incompleteness theorem at a high level.
Explain how CRISPR-Cas9 recognises its target sequence at the molecular level, including the role of the PAM.
Derive the Goldman-Hodgkin-Katz equation for the membrane potential.
Derive the logistic growth solution and analyse the stability of its fixed points.
Give a rigorous derivation of the Carnot efficiency using the second law.
Provide a derivation of Snell's law from Fermat's principle.
Outline the synthesis of nylon-6,6 and write the mechanism of the condensation step.
Describe how X-ray crystallography determines the electron density of a protein from diffraction data.
"""
BASE_GENERAL = """
Who invented the telephone?
Who is the author of the Harry Potter books?
Who painted the ceiling of the Sistine Chapel?
Who is known as the father of modern physics?
Who was the first emperor of Rome?
Who was the lead singer of Queen?
What is the capital of Mongolia?
capital of peru
What is the longest river in Europe?
What is the most spoken language in Brazil?
What is the largest island in the Mediterranean?
What is the boiling point of water in Fahrenheit?
What is the rarest blood type?
What is the name of Batman's butler?
What is the closest star to the Sun?
What is the symbol for iron on the periodic table?
What year did World War II end?
In what year did humans first land on the Moon?
When was the printing press invented?
When did the euro become a physical currency?
Which planet has the most moons?
Which element has the symbol Na?
Which is the largest planet in our solar system?
Which actor played Jack in Titanic?
Which country has the most time zones?
Which city is known as the Big Apple?
How many continents are there?
How many players are on a basketball team on the court?
How many keys does a standard piano have?
How many Harry Potter books are there?
How old is the universe?
How big is the Pacific Ocean?
How many legs does a spider have?
Where was Napoleon born?
Where is the Louvre?
Where is Timbuktu?
Name the longest river in Asia.
Name a country that starts with the letter Q.
Name the three primary colours.
Name all the Great Lakes.
List the members of the G7.
List the planets in order from the Sun.
Give me the names of the Teenage Mutant Ninja Turtles.
Tell me who won the 2018 FIFA World Cup.
Tell me what currency they use in Switzerland.
Can you tell me the capital of Morocco?
Quick question: what's the capital of Turkey?
I always forget: is Sydney the capital of Australia?
Is Pluto still a planet?
Is English the official language of the USA?
True or false: bats are blind.
Fill in the blank: ____ was the first president of the United States.
The Mona Lisa hangs in which museum?
The first Harry Potter book was published in what year?
Tallest animal in the world?
Author of The Great Gatsby?
Freezing point of water in Kelvin?
who is the richest person in the world
what does the acronym laser stand for
what is a group of crows called
what is the opposite of ancient
what's the most visited country in the world
who invented the airplane
who won best picture at the oscars in 2020
when does summer start in australia
what is the tallest tree species
Which football club has won the most Champions League titles?
What sport is played at Wimbledon?
Who was the first person to climb Mount Everest?
What country does feta cheese come from?
What is the main ingredient in hummus?
What kind of animal is a Komodo dragon?
What is the largest species of bear?
What is a light year?
What does a seismograph measure?
Which organ produces insulin?
How many chambers does the human heart have?
Who was Genghis Khan?
What was the name of the first computer programmer?
Who was Nelson Mandela?
Which film won the first Academy Award for Best Picture?
Who wrote the song Imagine?
Who is the author of the Sherlock Holmes stories?
What is the name of the fairy in Peter Pan?
What is origami?
How many letters are in the English alphabet?
Which country has the most islands?
What is the largest rainforest in the world?
What is the only continent with no permanent residents?
What's the speed limit on German autobahns?
Which river flows through Budapest?
Which country has the most pyramids?
Which city is home to the Brandenburg Gate?
Which is the longest river in North America?
Which planet is known as the Morning Star?
Which element has the symbol Au?
Which scientist proposed the three laws of motion?
Which country is the island of Bali in?
Which author created Hercule Poirot?
Which artist painted The Persistence of Memory?
Which animal is the national symbol of Australia?
Which mountain is the highest in Japan?
Which country won the 2014 FIFA World Cup?
Which language is spoken in Brazil?
Which city is known as the City of Light?
Which planet is closest in size to Earth?
Which gas do humans exhale?
Which vitamin is found in citrus fruit?
Which country has the largest land area in South America?
Which famous ship did Charles Darwin sail on?
List the countries that border France.
List the seven continents.
List the members of the band ABBA.
List the four largest islands in the world.
List the months that have 31 days.
List the noble gases in order of atomic number.
List the ingredients of a classic margherita pizza.
List the countries of the United Kingdom.
Give me the names of the planets between Mars and Neptune.
Give me the three most spoken languages in the world.
Give me the capitals of Germany, Austria and Switzerland.
Give me three rivers in Africa.
Return the names of the Great Lakes.
Return the symbols of the elements carbon, nitrogen and oxygen.
Name the authors of the Federalist Papers.
Name the five largest countries by area.
Name every planet with rings.
Name the countries where Spanish is an official language in Central America.
Name the chemical element with atomic number 6.
Name the three states of matter.
What is the chemical symbol for potassium?
What is the atomic number of gold?
What is the freezing point of water in Fahrenheit?
What is the largest moon in the solar system?
What is the name of the red pigment in blood?
What is the closest planet to the Sun?
What colour is chlorophyll?
What is the common name for sodium chloride?
What is the capital of Iceland?
What is the currency of Mexico?
What is the population of Germany?
What is the official language of Argentina?
Who discovered radium?
Who painted The Last Supper?
Who wrote Don Quixote?
Who was the first person to reach the South Pole?
Who directed Pulp Fiction?
Who is the Greek goddess of wisdom?
When did the Second World War begin?
When was the Eiffel Tower completed?
How many planets are in the solar system?
How many sides does a hexagon have?
How many bones are in the human hand?
How many official languages does South Africa have?
Where is the Acropolis?
Where is Mount Kilimanjaro?
In which country is the city of Marrakesh?
In which year did the Titanic sink?
In which city is the Golden Gate Bridge?
In which sport is the Ryder Cup awarded?
"""
# Answer-format instructions that fit any request.
SUFFIX_ALL = """
Keep it short.
Be concise.
Keep your answer under 50 words.
Answer in no more than two sentences.
Please be brief.
Use bullet points.
Format the answer as a numbered list.
Respond in Markdown.
Use a markdown table if it helps.
Do not use any commas in your response.
Write everything in lowercase letters.
Respond in all capital letters.
Wrap your entire response in double quotation marks.
Put your whole answer inside <answer></answer> tags.
Return the result as JSON.
Respond with a JSON object only.
Format your response as valid YAML.
No preamble, no explanation.
Don't add any commentary.
Do not include an introduction or a conclusion.
Avoid jargon.
Finish your response with the exact phrase "Is there anything else?"
Start your answer with the word "Sure".
End with a one-line summary.
Highlight the key part in bold.
Include a title in double angle brackets, like <<title>>.
Your response should contain at least three paragraphs separated by ***.
Separate sections with a line of dashes.
Add a P.S. at the end.
Please reply in English.
No emojis please.
Plain text only, no formatting.
Explain like I'm five.
Use simple words.
Answer as a pirate would.
Keep it friendly and casual.
Reply in a formal tone.
Limit the response to 100 words.
Respond in fewer than 30 words.
Give me just one version.
Don't repeat the question.
Make sure the answer fits in a tweet.
"""
# Answer-format instructions that fit a question (every label but instruction).
SUFFIX_QUESTION = """
Answer with a JSON list.
Answer with a JSON list of strings.
Give the answer as a JSON array.
Return only a JSON object of the form {"answer": ...}.
Only the words, no period.
Only the answer, no period at the end.
Just the answer.
Just the answer, nothing else.
Give only the final answer.
Answer in one word.
One word answer.
Answer with a single word or number.
Reply with only the name.
Respond with the answer only, in lowercase.
Answer with a short phrase, no full sentence.
Do not explain your answer.
No explanation needed.
Don't show your working, just the result.
Show your work.
Think step by step, then give the answer.
Explain your reasoning briefly before answering.
Let's think step by step.
Put the final answer in a box.
Put the final answer in \\boxed{}.
Write the final answer on the last line as "Answer: X".
End your response with "The answer is X." where X is your answer.
Format: Answer: <your answer>
Give the answer in the format "Final answer: ...".
Wrap the answer in square brackets.
Put your answer in double quotes.
Answer in French.
Answer in Spanish, please.
Separate multiple answers with commas.
If there are several answers, list them one per line.
Respond with yes or no first, then one sentence.
Answer, then give a confidence from 0 to 100.
Cite your source if you can.
Give your answer as a comma-separated list with no spaces.
Answer with the exact wording only, without punctuation.
Answer in under ten words.
State the answer and nothing more.
Respond with just the letter of the correct option.
Give the answer as a JSON list, even if there is only one item.
Respond with only the name of the thing.
No full sentences; just the words.
Answer in as few words as possible.
Reply in lowercase and without punctuation.
Output the answer only, with no trailing period.
Provide a JSON object with the key "answer".
"""
PREFIX = """
Answer the following question.
Please answer this question:
Question:
Q:
Quick question:
Here is a question for you.
I have a question.
Help me with this:
Can you help?
Answer briefly:
Respond to the following.
Task:
Query:
User question:
Hey, quick one:
I need an answer to this:
Please help:
Request:
Answer the following trivia question.
Trivia question:
Answer this with a short phrase:
"""
SYSTEM = """
You are a helpful assistant.
You are a helpful, concise assistant. Answer the user's request.
You are an AI assistant. Follow the user's instructions carefully.
You are a knowledgeable assistant who gives accurate answers.
You are an expert. Respond accurately and concisely.
You are a friendly chatbot.
System: You are a helpful assistant that answers in plain text.
System prompt: be accurate, be brief.
You are ChatBot, a large language model. Answer as concisely as possible.
Act as an expert in the relevant field.
"""
# Templates that wrap the whole request, as chat front-ends and evaluation harnesses do.
TEMPLATES = [
    "{system}\n\n{text}",
    "{system}\nUser: {text}\nAssistant:",
    "System: {system}\nUser: {text}",
    "### Instruction:\n{text}\n\n### Response:",
    "Question: {text}\nAnswer:",
    "Q: {text}\nA:",
    "[INST] {text} [/INST]",
    "<|user|>\n{text}\n<|assistant|>",
    "Human: {text}\n\nAssistant:",
    "USER: {text}\nASSISTANT:",
    "{system} {text}",
    "Input: {text}\nOutput:",
]


def lines(block: str) -> list[str]:
    return [line.replace("\\n", "\n") for line in block.strip().splitlines()]


def join(first: str, second: str, rng: random.Random) -> str:
    return first + rng.choice((" ", " ", "\n", "\n\n")) + second


def wrap(text: str, label: str, rng: random.Random) -> str:
    suffixes = lines(SUFFIX_ALL) + ([] if label == "instruction" else lines(SUFFIX_QUESTION))
    style = rng.random()
    if style < 0.35:
        return join(text, rng.choice(suffixes), rng)
    if style < 0.50:
        return join(rng.choice(suffixes), text, rng)
    if style < 0.62:
        return join(join(rng.choice(lines(PREFIX)), text, rng), rng.choice(suffixes), rng)
    if style < 0.85:
        template = rng.choice(TEMPLATES)
        inner = join(text, rng.choice(suffixes), rng) if rng.random() < 0.5 else text
        return template.format(system=rng.choice(lines(SYSTEM)), text=inner)
    first, second = rng.sample(suffixes, 2)
    return join(join(text, first, rng), second, rng)


def rows() -> list[dict[str, str]]:
    out = []
    seen: set[str] = set()
    for label in LABELS:
        for text in lines(globals()[f"BASE_{label.upper()}"]):
            rng = random.Random(hashlib.sha256(text.encode()).digest())
            for _ in range(VARIANTS):
                wrapped = wrap(text, label, rng)
                if wrapped not in seen:
                    seen.add(wrapped)
                    out.append({"text": wrapped, "label": label, "source": SOURCE})
    return out


def main() -> None:
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
