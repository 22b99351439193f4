# ruff: noqa: E501, SIM905
"""Content lists for ``make_phrasings.py``, written by the LocalForge developers (Apache-2.0).

Facts and topics only; the question frames, request verbs and answer-format wrappers that
turn them into queries live in ``make_phrasings.py``.
"""

from __future__ import annotations

# (subject, fact kind) pairs become trivia questions through the frames of their kind.
CAPITALS = "France Peru Kenya Canada Norway Vietnam Chile Egypt Poland Argentina Thailand Portugal Ghana Hungary Mongolia Iceland Morocco Colombia Finland Nepal Cuba Greece Ireland Pakistan Jamaica Ukraine Bolivia Senegal Malaysia Austria Turkey Sweden Denmark Ethiopia Venezuela Kazakhstan Romania Switzerland Belgium Uruguay".split()
BOOKS = [
    "Moby-Dick",
    "War and Peace",
    "The Great Gatsby",
    "Don Quixote",
    "Frankenstein",
    "The Catcher in the Rye",
    "Jane Eyre",
    "Crime and Punishment",
    "The Hobbit",
    "Ulysses",
    "Brave New World",
    "The Old Man and the Sea",
    "Wuthering Heights",
    "Dracula",
    "The Little Prince",
    "Things Fall Apart",
    "Beloved",
    "The Divine Comedy",
    "Madame Bovary",
    "Les Misérables",
    "The Name of the Rose",
    "Middlemarch",
    "The Trial",
    "Lolita",
    "Great Expectations",
    "The Handmaid's Tale",
    "Anna Karenina",
    "The Road",
    "Dune",
    "The Count of Monte Cristo",
]
PAINTINGS = [
    "the Mona Lisa",
    "The Night Watch",
    "Guernica",
    "The Birth of Venus",
    "The Scream",
    "Girl with a Pearl Earring",
    "The Last Supper",
    "Water Lilies",
    "The Garden of Earthly Delights",
    "American Gothic",
    "The Kiss",
    "Las Meninas",
    "Nighthawks",
    "The Great Wave off Kanagawa",
    "Liberty Leading the People",
]
FILMS = [
    "Jurassic Park",
    "The Godfather",
    "Pulp Fiction",
    "Spirited Away",
    "Titanic",
    "Psycho",
    "Inception",
    "Casablanca",
    "Parasite",
    "The Shining",
    "Alien",
    "Amélie",
    "Vertigo",
    "Seven Samurai",
    "Schindler's List",
    "Blade Runner",
    "Lost in Translation",
    "Goodfellas",
]
COUNTRIES_CURRENCY = [
    *"Japan Mexico India Switzerland Brazil Sweden Turkey Russia China Poland Egypt Israel Indonesia Nigeria Vietnam".split(),
    "South Africa",
]
ELEMENTS = "gold silver iron lead sodium potassium tin mercury copper tungsten helium neon calcium zinc oxygen uranium".split()
EVENTS_YEAR = [
    "the Titanic sink",
    "the first Moon landing happen",
    "World War I begin",
    "the French Revolution start",
    "the Berlin Wall go up",
    "the Euro enter circulation",
    "the Chernobyl disaster happen",
    "Columbus first reach the Americas",
    "the Battle of Hastings take place",
    "the Wright brothers first fly",
    "the United Nations form",
    "the first modern Olympics take place",
    "Nelson Mandela become president",
    "the Soviet Union dissolve",
    "the Great Fire of London happen",
    "the printing press appear in Europe",
    "the first email get sent",
    "India gain independence",
]
INVENTIONS = [
    "the light bulb",
    "the World Wide Web",
    "dynamite",
    "the telephone",
    "the printing press",
    "the radio",
    "the polio vaccine",
    "the steam engine",
    "the periodic table",
    "the jet engine",
    "the theory of relativity",
    "the ballpoint pen",
    "the diesel engine",
    "the first computer mouse",
    "the Rubik's Cube",
    "the hovercraft",
]
# Hand-written quick facts and trivia of every kind, each a complete question.
TRIVIA = """
How many legs does a spider have?
Which planet is known as the Red Planet?
What is the largest ocean on Earth?
How many strings does a standard violin have?
What is the national flower of Japan?
Which animal is the largest mammal?
What colour is a ruby?
How many players are on a soccer team on the field?
Which country hosted the 2016 Summer Olympics?
What is the longest river in Europe?
What is the hottest planet in the solar system?
Which bird is the symbol of peace?
What is the main language spoken in Quebec?
How many hearts does an octopus have?
Which instrument has 88 keys?
What is the largest island in the world?
Who is the Greek god of the sea?
Which country is famous for the maple leaf flag?
What do you call a baby kangaroo?
What is the tallest building in the world?
Which city is known as the Big Apple?
What is the smallest planet in our solar system?
What gas do plants absorb from the air?
How many sides does a hexagon have?
Which continent is the Sahara in?
What is the name of Harry Potter's owl?
Which sport uses a shuttlecock?
What is the freezing point of water in Celsius?
Which country has the most pyramids?
Who was the first president of the United States?
Which metal is liquid at room temperature?
What is the most spoken language in the world?
Which company makes the PlayStation?
What is the name of the fairy in Peter Pan?
Which planet has the most moons?
What is the capital of the US state of Texas?
Which river flows through Baghdad?
How many time zones does Russia have?
What is the currency of the United Kingdom?
Which mountain range separates Europe and Asia?
Who was the Roman god of war?
What is the largest country in South America?
Which country invented pizza?
How many bones does an adult human have?
What is the name of the longest-running animated TV series?
What is the most abundant gas in Earth's atmosphere?
Which football club plays at Old Trafford?
Who painted the ceiling of the Sistine Chapel?
What is the name of the world's largest coral reef?
In which country is Machu Picchu?
What is the largest state in the USA by area?
Which ocean lies between Africa and Australia?
How many teeth does an adult human have?
Which planet is closest to the Sun?
What is a group of lions called?
Which vitamin do we get from sunlight?
Who is the author of the Harry Potter books?
What is the square dance of Argentina called?
Which country has the largest population?
What is the official language of Brazil?
What does NASA stand for?
What does the acronym UNESCO stand for?
Which desert is the driest in the world?
What is the birthstone for April?
Which chess piece can only move diagonally?
What is the national sport of Canada?
Which famous scientist developed the laws of motion?
Which country is home to the kangaroo?
How many minutes are in a football match?
Which element has the atomic number 1?
Where is the Great Barrier Reef?
What is the capital of Scotland?
Which band released the album Abbey Road?
Which language has the most words?
Who won the FIFA World Cup in 2014?
Which country gave the world the sauna?
What is the main ingredient of hummus?
What is the fastest bird in the world?
Which organ pumps blood around the body?
What is the name of the currency used in most of the European Union?
What is the tallest animal in the world?
Which sea is the saltiest?
Which city hosts the Louvre?
What year did the Second World War end?
Who discovered gravity when an apple fell?
Which is the largest moon of Saturn?
How many days are in a leap year?
Which continent has the most countries?
What is the primary language of Argentina?
What is the name of the bear in The Jungle Book?
Which US president appears on the one-dollar bill?
What is the hardest mineral on the Mohs scale?
Which country has the most islands?
What is the only mammal that can truly fly?
What kind of animal is a Komodo dragon?
Which city is home to the Colosseum?
Who sang Like a Rolling Stone?
Which country is known as the Land of the Rising Sun?
What is the name of the line that divides the Earth into northern and southern halves?
"""
# Trivia asked for several items at once: a list is the answer, not the task.
TRIVIA_LISTS = """
Name the seven continents.
List the planets in order from the Sun.
Name three countries that border Germany.
What are the primary colours?
Name the four members of the Beatles.
List the noble gases.
Which countries make up the United Kingdom?
Name five Shakespeare plays.
What are the Great Lakes?
Name the three states of matter.
List the official languages of Switzerland.
Name all the oceans.
What are the colours of the rainbow?
Name three species of big cats.
Which countries border Brazil?
Name the Marx brothers.
List the months that have 31 days.
Name the original six teams of the NHL.
What are the five senses?
Name three works by Beethoven.
"""

# Code requests phrased as instructions, many with arithmetic content.
CODE_TASKS = """
computes the compound interest on a principal over n years
returns the nth Fibonacci number
checks whether a number is prime
converts a decimal number to binary
calculates the factorial of n iteratively
finds the median of a list of numbers
computes the mean and standard deviation of a list
returns the sum of the digits of an integer
solves a quadratic equation given a, b and c
computes the area of a triangle from its three sides with Heron's formula
converts miles to kilometres for a list of distances
counts the vowels in a string
checks whether a string is a palindrome
removes duplicate values from a list while keeping their order
merges two dictionaries, summing values of shared keys
returns the most common word in a text file
computes the greatest common divisor of two numbers with Euclid's algorithm
generates all prime numbers below 10,000
calculates the monthly payment of a loan
rounds a price to two decimal places and formats it with a currency sign
returns the transpose of a matrix
multiplies two matrices
computes the dot product of two vectors
estimates pi with a Monte Carlo simulation
converts a Roman numeral to an integer
checks whether a year is a leap year
computes the distance between two latitude/longitude points
finds the second largest number in an array
returns the running total of a list
sorts a list of students by grade, then by name
validates an email address
parses a date string and returns the day of the week
flattens a nested list
reads a CSV file and sums one column
counts how many times each word appears in a sentence
computes the nth triangular number
returns the number of set bits in an integer
converts Celsius temperatures to Fahrenheit
computes a moving average over a window of k values
checks whether two strings are anagrams
returns the binomial coefficient n choose k
simulates rolling two dice 10,000 times and prints the frequency of each sum
computes the least common multiple of a list of integers
finds all pairs in a list that add up to a target
calculates the body mass index from height and weight
converts a number of seconds to hours, minutes and seconds
evaluates a polynomial at x given its coefficients
implements the sieve of Eratosthenes
computes the determinant of a 3x3 matrix
returns the prime factors of a number
"""
CODE_LANGS = [
    "Python",
    "JavaScript",
    "TypeScript",
    "Java",
    "C",
    "C++",
    "C#",
    "Go",
    "Rust",
    "Ruby",
    "PHP",
    "Kotlin",
    "Swift",
    "Haskell",
    "R",
    "Julia",
    "Scala",
    "Bash",
    "Lua",
    "MATLAB",
]
CODE_THINGS = [
    "function",
    "program",
    "script",
    "method",
    "class",
    "module",
    "snippet",
    "routine",
    "CLI tool",
    "lambda",
]

# Graduate science and mathematics topics, for requests phrased many ways.
HARD_EXPLAIN = """
why the Hartree-Fock method misses electron correlation
the origin of the anomeric effect in pyranose sugars
why the [4+2] cycloaddition is thermally allowed but the [2+2] is not
the mechanism of the Sharpless asymmetric epoxidation
how the Born-Oppenheimer approximation separates nuclear and electronic motion
why the Jahn-Teller effect elongates octahedral d9 complexes
the Marcus theory of electron transfer and its inverted region
how NMR coupling constants reveal the dihedral angle through the Karplus relation
the mechanism of olefin metathesis with a Grubbs catalyst
why noble-gas compounds such as XeF4 are square planar
the crystal field splitting of a tetrahedral complex compared with an octahedral one
how the spin-statistics theorem leads to the Pauli exclusion principle
why the renormalisation group explains universality near critical points
the BCS mechanism of conventional superconductivity
how the Higgs mechanism gives mass to the W and Z bosons
the origin of the Lamb shift in hydrogen
why Bose-Einstein condensation needs a dimension greater than two for a free gas
the derivation of the Einstein coefficients for spontaneous emission
how the Kramers-Kronig relations follow from causality
the physical meaning of Berry's phase in adiabatic evolution
why the Carnot efficiency bounds every heat engine
the mechanism of the Claisen rearrangement and its chair transition state
how Hückel theory predicts the aromaticity of cyclic polyenes
why the trans effect controls substitution in square-planar platinum complexes
the kinetic isotope effect in C-H bond cleavage
how the Fermi golden rule gives transition rates
why the Stark effect in hydrogen is linear for n = 2
the origin of London dispersion forces from second-order perturbation theory
how the Michaelis-Menten rate law follows from the steady-state approximation
the regioselectivity of electrophilic aromatic substitution on anisole
why the Curtin-Hammett principle holds for rapidly interconverting conformers
how the Debye model explains the T cubed law of heat capacity
the Woodward-Fieser rules for predicting UV absorption
the mechanism of the Mitsunobu reaction
why the halting problem is undecidable
how the Wigner-Eckart theorem simplifies matrix elements
why Noether's theorem links symmetries to conservation laws
the Landau theory of second-order phase transitions
how the Chandrasekhar limit arises from electron degeneracy pressure
the selection rules for rotational Raman spectroscopy
"""
HARD_TASKS = """
Derive the Clausius-Clapeyron equation from the equality of chemical potentials.
Prove that every finite group of prime order is cyclic.
Propose a synthesis of aspirin from phenol and justify each step.
Predict the product of the ozonolysis of 1-methylcyclohexene followed by a reductive work-up.
Give the ground-state term symbol of the Cr3+ ion and justify it with Hund's rules.
Derive the radial equation of the hydrogen atom from the Schrödinger equation.
Prove that a continuous function on a compact set is uniformly continuous.
Assign the point group of ferrocene in its eclipsed conformation.
Derive the Nernst equation from the Gibbs energy of a cell reaction.
Show that the Lagrangian of a free relativistic particle gives the correct energy-momentum relation.
Propose a mechanism for the Fischer esterification of acetic acid with ethanol.
Prove the Cauchy-Schwarz inequality for an inner product space.
Predict the stereochemistry of the E2 elimination of menthyl chloride.
Derive the Sackur-Tetrode equation for the entropy of an ideal gas.
Prove that the fundamental group of the circle is isomorphic to the integers.
Rationalise the colours of transition-metal aqua complexes with ligand field theory.
Derive the equations of motion of a rigid body from Euler's equations.
Prove that there are infinitely many primes congruent to 3 mod 4.
Identify the intermediate in the Baeyer-Villiger oxidation and explain the migratory aptitude.
Derive the dispersion relation of a diatomic linear chain and identify the optical branch.
Prove that the eigenvalues of a unitary operator have modulus one.
Explain the selectivity of the Birch reduction of anisole with a mechanism.
Derive the virial theorem for a bound system with a power-law potential.
Prove that the set of real numbers is uncountable with Cantor's diagonal argument.
Determine the number of IR-active vibrational modes of methane with group theory.
Derive the Lorentz force from the Lagrangian of a charged particle.
Show that the Gibbs-Duhem equation follows from the extensivity of the Gibbs energy.
Prove Lagrange's theorem on the order of subgroups.
Predict whether the Diels-Alder adduct of furan and maleimide is endo or exo under thermodynamic control, and why.
Derive the Planck distribution from the statistics of photons in a cavity.
"""
HARD_SUBJECTS = [
    "organic chemistry",
    "physical chemistry",
    "quantum mechanics",
    "statistical mechanics",
    "inorganic chemistry",
    "condensed matter physics",
    "general relativity",
    "abstract algebra",
    "real analysis",
    "molecular biology",
]

# Knowledge and multi-step explanation (reasoning).
REASON_WHY = """
the sky is blue during the day
ice floats on water
the seasons change
bread goes stale
prices rise when a currency is printed too fast
the Roman Empire split in two
planes can fly
hot air balloons rise
salt melts ice on roads
the tides follow the Moon
some countries drive on the left
the Black Death spread so fast
antibiotic resistance develops
volcanoes form along plate boundaries
the Great Depression lasted so long
coffee keeps people awake
a compass points north
metal feels colder than wood at the same temperature
the Cold War never became a direct war
rainbows appear after rain
the dinosaurs went extinct
cities are warmer than the countryside
the Industrial Revolution began in Britain
a spinning top stays upright
interest rates affect house prices
onions make people cry
the printing press spread the Reformation
stars twinkle but planets do not
the Amazon rainforest matters for the climate
a recession can follow a stock market crash
"""
REASON_COMPARE = [
    ("a virus", "a bacterium"),
    ("weather", "climate"),
    ("a democracy", "a republic"),
    ("mitosis", "meiosis"),
    ("stocks", "bonds"),
    ("nuclear fission", "nuclear fusion"),
    ("an alligator", "a crocodile"),
    ("baroque music", "classical music"),
    ("a law", "a regulation"),
    ("RAM", "storage"),
    ("inflation", "deflation"),
    ("an epidemic", "a pandemic"),
    ("speed", "velocity"),
    ("socialism", "communism"),
    ("a comet", "an asteroid"),
    ("Impressionism", "Expressionism"),
    ("monotheism", "polytheism"),
    ("a tariff", "a quota"),
]
NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kai",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
]
OBJECTS = ["books", "cars", "birds", "fruits", "trophies", "boxes", "paintings", "plants"]

# Writing requests (instruction) for the format wrappers.
WRITE_TASKS = """
Write a short poem about the first snow of winter.
Write a thank-you email to a colleague who covered my shift.
Summarise the story of Cinderella in a few sentences.
Write a product description for noise-cancelling headphones.
Rewrite this in plain English: "The party of the first part shall indemnify the party of the second part."
Translate "good morning, how are you?" into Spanish.
Write a tweet announcing our café's new opening hours.
Draft a cover letter opening for a junior designer role.
Give me a title for a blog post about remote work.
Write a limerick about a forgetful wizard.
Paraphrase: "Attendance at the meeting is mandatory for all staff."
Write a two-sentence horror story.
Compose a birthday message for my grandmother.
Write a slogan for a recycling campaign.
Proofread this: "Their is to many cars on the rode today."
Write a short speech to welcome new students.
Turn this into a formal complaint: the package came late and broken.
Write an out-of-office reply for next week.
Write a haiku about coffee.
Summarise the main idea of the tortoise and the hare fable.
"""
# Graduate chemistry and physics asked as design or development tasks (still hard_reasoning).
HARD_DESIGN = """
Design a catalytic process for producing ammonia at lower pressure than the Haber-Bosch process, and justify the choice of catalyst.
Develop a synthetic route to paracetamol from benzene with the fewest steps.
Design a continuous stirred-tank reactor sequence for a second-order reaction to reach 95% conversion, and explain the trade-offs.
Propose a method to separate a racemic mixture of ibuprofen into its enantiomers.
Design a polymer electrolyte with high lithium-ion conductivity and explain which structural features matter.
Develop a purification scheme for a crude reaction mixture containing a basic amine, a neutral ester and a carboxylic acid.
Design an experiment to measure the activation energy of the decomposition of hydrogen peroxide.
Propose a metal-organic framework suitable for capturing CO2 from flue gas and explain the binding mechanism.
Design a zeolite-based catalyst for cracking long-chain alkanes and discuss shape selectivity.
Develop a kinetic model for enzyme inhibition that distinguishes competitive from uncompetitive inhibitors.
Design a photocatalyst for water splitting, considering band gap and band-edge positions.
Propose a retrosynthetic analysis of the anticancer drug tamoxifen.
Design a spectroscopic experiment to determine whether a transition-metal complex is high-spin or low-spin.
Develop a process to recover copper from electronic waste with minimal environmental impact.
Design an electrochemical cell to measure the standard potential of the Ag+/Ag couple.
Propose a mechanism-based strategy to make the Suzuki coupling work with aryl chlorides.
Design a laser cooling scheme for trapping neutral rubidium atoms and explain the Doppler limit.
Develop a model of the band structure of graphene near the Dirac points.
Design a superconducting qubit and explain how its anharmonicity allows two-level control.
Propose an experiment to test Bell's inequality with entangled photons and explain the loopholes.
"""
# More ways of asking quick facts: fill-in, fragments, quiz prompts, requests.
TRIVIA_STYLES = """
The largest planet in the solar system is ___.
Complete this: the chemical symbol for sodium is
fill in the blank: the Great Wall is in ____
Quiz prompt: what is the longest river in Asia?
capital france
tallest mountain world
Name of the first man in space?
The Mona Lisa hangs in which museum?
True or false: the Pacific is the largest ocean.
Is a tomato a fruit or a vegetable?
How many states are in the USA?
I'm writing a quiz. What's the answer to: which planet is known for its rings?
Which is bigger, Canada or Brazil?
Who's the current holder of the men's marathon world record?
What does DNA stand for?
Which country's flag has a cedar tree on it?
what year was google founded
How tall is the Eiffel Tower?
Where was Napoleon born?
Who played Jack in Titanic?
Name a mammal that lays eggs.
What's the population of Tokyo, roughly?
Which team won the first Super Bowl?
What's the national dish of Spain?
Which language is spoken in Flanders?
What animal is on the Porsche logo?
How many keys does a standard computer keyboard have?
Identify the author of 'The Raven'.
Give the name of the longest river in Africa.
State the capital of Norway.
Provide the name of the first female prime minister of the UK.
List the countries that share a border with Spain.
Find out who wrote the national anthem of France.
Determine which planet has the shortest day.
"""
# Multiple-choice knowledge questions: stem | correct-or-not options (order is shuffled per row).
CHOICE = """
Which branch of the US government has the power to declare war? | Congress | The President | The Supreme Court | The Cabinet
A contract signed by a minor is usually | voidable by the minor | void from the start | binding on both parties | enforceable only by the adult
Which hormone lowers blood glucose? | Insulin | Glucagon | Cortisol | Adrenaline
What is the most likely effect of a price ceiling set below the equilibrium price? | A shortage | A surplus | No change in quantity | A fall in demand
Which philosopher argued that we should act only on maxims we could will as universal laws? | Kant | Mill | Hume | Aristotle
In classical conditioning, the bell in Pavlov's experiment was initially a | neutral stimulus | unconditioned stimulus | conditioned response | reinforcer
Which organelle is the site of ATP synthesis by oxidative phosphorylation? | Mitochondrion | Ribosome | Golgi apparatus | Lysosome
The Treaty of Westphalia (1648) is most associated with | the principle of state sovereignty | the end of the Napoleonic Wars | the unification of Germany | the founding of the League of Nations
A patient has fatigue, pale skin and low ferritin. The most likely diagnosis is | iron-deficiency anaemia | vitamin B12 deficiency | hypothyroidism | leukaemia
When a central bank sells government bonds, the money supply usually | falls | rises | stays the same | doubles
Which logical fallacy attacks the person instead of the argument? | Ad hominem | Straw man | Slippery slope | Begging the question
The main reason the Articles of Confederation were replaced was | a weak central government | too much presidential power | an unfair tax system | the lack of states' rights
Which type of rock forms from cooled magma? | Igneous | Sedimentary | Metamorphic | Limestone
Under utilitarianism, the right action is the one that | maximises overall happiness | follows a universal rule | respects natural rights | expresses good character
Which of these is a symptom of a stroke rather than a heart attack? | Sudden slurred speech | Chest pain radiating to the arm | Shortness of breath after exercise | Sweating and nausea
Which factor most directly shifts the demand curve for umbrellas to the right? | A forecast of a rainy season | A fall in the price of umbrellas | A rise in production costs | A new tax on umbrella makers
What is the primary function of the loop of Henle? | Concentrating urine | Filtering blood cells | Producing renin | Storing urine
Which event triggered the start of the First World War? | The assassination of Archduke Franz Ferdinand | The invasion of Poland | The sinking of the Lusitania | The Russian Revolution
A firm in perfect competition in the long run earns | zero economic profit | maximum monopoly profit | negative accounting profit | profit equal to its fixed costs
In psychology, the tendency to search for information that confirms what we already believe is | confirmation bias | the halo effect | cognitive dissonance | the bystander effect
Which amendment to the US Constitution protects against unreasonable searches? | The Fourth | The First | The Fifth | The Tenth
Which of the following is an example of a renewable resource? | Wind | Coal | Natural gas | Uranium
Which statement best describes natural selection? | Individuals with heritable traits suited to their environment leave more offspring | Organisms change their traits to fit the environment during life | All mutations are harmful | Species always become more complex
What does a negative income elasticity of demand indicate? | An inferior good | A luxury good | A normal good | A perfectly inelastic good
The Magna Carta is significant because it | limited the power of the king | created the English parliament's House of Commons | abolished feudalism | established religious freedom
Which vaccine type uses a weakened live pathogen? | Attenuated vaccine | Toxoid vaccine | Subunit vaccine | mRNA vaccine
An auditor's main responsibility is to | express an opinion on whether financial statements are fairly presented | prepare the company's tax return | set the company's budget | detect every fraud
Which philosopher is known for "I think, therefore I am"? | Descartes | Locke | Spinoza | Nietzsche
In an ecosystem, organisms that break down dead matter are | decomposers | producers | primary consumers | apex predators
Which of these best explains why the Silk Road declined? | The rise of maritime trade routes | The invention of paper | The fall of Constantinople in 1204 | A ban on silk in Europe
A tort differs from a crime mainly because a tort | is a civil wrong remedied by damages | is always intentional | is prosecuted by the state | carries a prison sentence
Which structure carries oxygenated blood from the lungs to the heart? | Pulmonary veins | Pulmonary arteries | Vena cava | Aorta
What is the opportunity cost of going to university? | The income and other options given up | The tuition fee only | The total cost of books | Nothing, if it is subsidised
Which of these is the best example of a primary source for the French Revolution? | A letter written by a Parisian in 1789 | A 2010 history textbook | A documentary film | An encyclopedia entry
Which cognitive stage, according to Piaget, is marked by abstract reasoning? | Formal operational | Concrete operational | Preoperational | Sensorimotor
Which best describes the role of the Federal Reserve? | It sets monetary policy in the United States | It collects federal taxes | It writes the federal budget | It regulates international trade
What is the main cause of the seasons on Earth? | The tilt of Earth's axis | The distance from the Sun | The Moon's orbit | Solar flares
A drug that blocks a receptor without activating it is | an antagonist | an agonist | an enzyme | a hormone
Which of these was a cause of the Great Depression? | The 1929 stock market crash and bank failures | The Marshall Plan | The invention of the automobile | The end of the Second World War
In marketing, segmenting customers by age and income is | demographic segmentation | psychographic segmentation | behavioural segmentation | geographic segmentation
"""
# Openings and option styles for the multiple-choice questions.
CHOICE_LEADS = [
    "",
    "",
    "Answer the following multiple-choice question.\n",
    "Pick the best answer.\n",
    "Choose one:\n",
    "Question: ",
    "Which option is correct?\n",
    "Multiple choice: ",
    "Select the correct answer. ",
]
# How things work and what follows from what (reasoning).
REASON_HOW = """
a refrigerator keeps food cold
vaccines create immunity
the stock market sets prices
the kidneys filter blood
a bill becomes law in the UK
GPS works out your position
the immune system recognises a virus
compound interest grows savings
a jury reaches a verdict
plate tectonics shapes mountains
the heart pumps blood
an election with ranked-choice voting is counted
credit scores are calculated
the greenhouse effect warms the planet
supply chains respond to a shortage
the brain forms memories
a central bank fights inflation
bees communicate where food is
a nuclear power plant makes electricity
a trade war affects consumers
"""
